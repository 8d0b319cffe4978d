from django.db import models


class Run(models.Model):
    """One execution of a plan: for an account request, or for a command on an existing
    account (``kind``). ``request_id`` is the id of what the run executes."""

    class Kind(models.TextChoices):
        ACCOUNT_REQUEST = "account_request"
        ACCOUNT_COMMAND = "account_command"

    class Status(models.TextChoices):
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    id = models.CharField(max_length=36, primary_key=True)
    request_id = models.CharField(max_length=36, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.ACCOUNT_REQUEST)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING, db_index=True)
    params = models.JSONField(default=dict, help_text="The request's inputs every step receives.")
    blueprint_name = models.CharField(max_length=100, blank=True)
    blueprint_version = models.PositiveIntegerField(
        null=True, blank=True, help_text="The version this run is pinned to."
    )
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    failure = models.TextField(blank=True, help_text="Why the run failed: the failing step and its reason.")
    retries = models.PositiveIntegerField(default=0, help_text="How often an operator or client retried it.")

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"run {self.id} ({self.status})"


class StepRun(models.Model):
    """The task-status table: one row per step of a run, updated as the step progresses."""

    class State(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        SKIPPED = "skipped"

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="steps")
    name = models.CharField(max_length=50)
    context = models.CharField(max_length=30)
    legacy_name = models.CharField(max_length=50, blank=True)
    position = models.PositiveSmallIntegerField()
    depends_on = models.JSONField(default=list)
    required = models.BooleanField(default=True)
    params = models.JSONField(default=dict, blank=True, help_text="The step's parameters from the blueprint.")
    max_attempts = models.PositiveSmallIntegerField(default=0, help_text="0: the deployment's default.")
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    redispatches = models.PositiveSmallIntegerField(default=0, help_text="Times the stuck-run sweeper sent it again.")
    last_progress_at = models.DateTimeField(
        null=True, blank=True, help_text="Dispatch or last retry: the stuck-run sweeper measures from here."
    )
    message = models.TextField(blank=True)
    error_code = models.CharField(max_length=100, blank=True)
    outputs = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["run", "position"]
        constraints = [models.UniqueConstraint(fields=["run", "name"], name="one_step_row_per_run")]
        permissions = [("reapply_steprun", "Can reapply a vend run's steps on its account")]

    def __str__(self) -> str:
        return f"{self.name} ({self.state})"
