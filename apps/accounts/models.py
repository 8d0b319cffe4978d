from django.core.validators import RegexValidator
from django.db import models

PAYER_NAME = RegexValidator(r"^[a-z0-9][a-z0-9-]{0,9}$", "Lower-case letters, digits and '-', at most 10 characters.")
EMAIL_PART = RegexValidator(r"^[a-z0-9][a-z0-9-]*$", "Lower-case letters, digits and '-'.")
ACCOUNT_ID = RegexValidator(r"^\d{12}$", "A 12-digit AWS account id.")


class Payer(models.Model):
    """A billing family: one AWS Organization and how Bespoke vends accounts into it."""

    name = models.CharField(
        max_length=10, unique=True, validators=[PAYER_NAME], help_text="What requests name as 'payer'."
    )
    display_name = models.CharField(max_length=100, blank=True)
    management_account_id = models.CharField(max_length=12, validators=[ACCOUNT_ID])
    management_role_arn = models.CharField(
        max_length=200,
        blank=True,
        help_text="Role to assume in the management account; empty uses Bespoke's own credentials.",
    )
    member_role_name = models.CharField(
        max_length=64,
        default="OrganizationAccountAccessRole",
        help_text="Role Organizations creates in each new account, assumed to baseline it.",
    )
    email_division = models.CharField(max_length=30, validators=[EMAIL_PART])
    email_domain = models.CharField(max_length=100)
    allowed_environments = models.JSONField(default=list)
    allowed_regions = models.JSONField(default=list)
    parent_ou_id = models.CharField(
        max_length=68, blank=True, help_text="OU new accounts move into; empty leaves them at the root."
    )
    log_archive_bucket = models.CharField(
        max_length=63, blank=True, help_text="Central S3 bucket (in the log-archive account) for CloudTrail and Config."
    )
    saml_provider_name = models.CharField(
        max_length=128, default="bespoke-idp", help_text="SAML provider made in each account."
    )
    saml_metadata_document = models.TextField(blank=True, help_text="The identity provider's SAML metadata XML.")
    dns_domain = models.CharField(
        max_length=200,
        blank=True,
        help_text="Parent domain of each account's private hosted zone, e.g. aws.example.com.",
    )
    approval_required_for_regulated = models.BooleanField(
        default=False, help_text="Regulated requests wait for an operator's approval before anything is created."
    )
    protected_account_ids = models.JSONField(
        default=list,
        blank=True,
        help_text="AWS account ids Bespoke must never close or move (log archive, security, ...). "
        "The management account is always protected.",
    )
    closures_per_30_days = models.PositiveSmallIntegerField(
        default=10,
        help_text="At most this many accounts closed through Bespoke in any 30 days (Organizations' own quota is 10%).",
    )
    # Guardrails (docs/guardrails.md): where accounts land, who hears about them, what they may cost.
    ou_tree = models.JSONField(
        default=list,
        blank=True,
        help_text='OU paths under the root Bespoke keeps, e.g. ["Workloads/Prod", "Workloads/NonProd", "Regulated"].',
    )
    ou_rules = models.JSONField(
        default=dict,
        blank=True,
        help_text='Which OU an account lands in: {"regulated": path, "environments": {env: path}, "default": path}. '
        "No rule for a request: parent_ou_id.",
    )
    ou_ids = models.JSONField(
        default=dict, blank=True, help_text="The Organization's ids of the tree's OUs (path → id), as last placed."
    )
    alternate_contacts = models.JSONField(
        default=dict,
        blank=True,
        help_text='Each account\'s alternate contacts: {"billing"|"operations"|"security": '
        '{"name", "title", "email", "phone"}}.',
    )
    security_admin_account_id = models.CharField(
        max_length=12,
        blank=True,
        validators=[ACCOUNT_ID],
        help_text="Delegated administrator of GuardDuty and Security Hub; empty: each account on its own.",
    )
    max_monthly_budget_usd = models.PositiveIntegerField(
        null=True, blank=True, help_text="The most a request may ask for as its monthly budget; empty: no maximum."
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ManagedAccount(models.Model):
    """An AWS account of a payer's Organization: one Bespoke vended (or will vend), adopted,
    or found there by the reconciler and not (yet) managed."""

    class Status(models.TextChoices):
        CREATING = "creating"
        ACTIVE = "active"
        FAILED = "failed"
        UNMANAGED = "unmanaged"  # in the Organization, not vended or adopted by Bespoke
        CLOSING = "closing"
        CLOSED = "closed"  # closed (suspended) — by Bespoke or outside it

    class Source(models.TextChoices):
        VENDED = "vended"
        ADOPTED = "adopted"
        DISCOVERED = "discovered"

    id = models.CharField(max_length=36, primary_key=True)
    payer = models.ForeignKey(Payer, on_delete=models.PROTECT, related_name="accounts")
    request_id = models.CharField(
        max_length=36,
        unique=True,
        null=True,
        blank=True,
        help_text="The account request this account was vended for (none for discovered accounts).",
    )
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.VENDED, db_index=True)
    email = models.EmailField(max_length=254)
    name = models.CharField(max_length=50)
    environment = models.CharField(max_length=20, blank=True, db_index=True)
    tags = models.JSONField(default=dict, blank=True)
    ou_id = models.CharField(max_length=68, blank=True, help_text="The OU the account was last seen in.")
    regions = models.JSONField(
        default=list,
        blank=True,
        help_text="The regions its guardrails were built in (the compliance poller reads them).",
    )
    drift = models.TextField(blank=True, help_text="What the reconciler found changed outside Bespoke.")
    last_seen_at = models.DateTimeField(
        null=True, blank=True, help_text="Last time the reconciler saw it in the Organization."
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    aws_account_id = models.CharField(max_length=12, blank=True, db_index=True)
    create_request_id = models.CharField(
        max_length=100, blank=True, help_text="Organizations' CreateAccount request id."
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.CREATING)
    failure_reason = models.TextField(blank=True)
    # One of the organization's in-flight creation slots (apps/accounts/quotas.py): held
    # from slot_taken_at until slot_released_at, when the account leaves "creating". The
    # intervals prove how many creations were ever in flight at once.
    slot_requested_at = models.DateTimeField(
        null=True, blank=True, help_text="Last time this creation asked for a slot and had to wait."
    )
    slot_taken_at = models.DateTimeField(null=True, blank=True)
    slot_released_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        permissions = [("reapply_managedaccount", "Can reapply a managed account's baseline")]

    def __str__(self) -> str:
        return f"{self.aws_account_id or 'pending'} {self.email}"


class Blueprint(models.Model):
    """The recipe an account gets: which baseline and network steps, with what parameters.

    Each payer has a default blueprint per environment (``environment`` empty: any), and
    regulated requests may get a stricter one. Every change of the definition makes a new
    version; a run pins the version it started with.
    """

    id = models.CharField(max_length=36, primary_key=True)
    payer = models.ForeignKey(Payer, on_delete=models.PROTECT, related_name="blueprints")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    environment = models.CharField(max_length=20, blank=True, help_text="Empty: the default for every environment.")
    regulated = models.BooleanField(default=False, help_text="Applies to regulated requests.")
    definition = models.JSONField(help_text='{"steps": [{"name": "iam", "params": {...}}, ...]}')
    version = models.PositiveIntegerField(default=1)
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["payer__name", "environment", "regulated"]
        constraints = [
            models.UniqueConstraint(fields=["payer", "name"], name="blueprint_name_unique_per_payer"),
            models.UniqueConstraint(
                fields=["payer", "environment", "regulated"],
                condition=models.Q(active=True),
                name="one_active_blueprint_per_payer_environment_and_regulation",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.payer.name}/{self.name} v{self.version}"


class BlueprintVersion(models.Model):
    """An immutable snapshot of a blueprint's definition."""

    blueprint = models.ForeignKey(Blueprint, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    definition = models.JSONField()
    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["blueprint", "-version"]
        constraints = [models.UniqueConstraint(fields=["blueprint", "version"], name="one_row_per_blueprint_version")]

    def __str__(self) -> str:
        return f"{self.blueprint.name} v{self.version}"


class ServiceControlPolicy(models.Model):
    """A service control policy of a payer's Organization, kept in Bespoke and attached to
    the OUs it is declared for. Every change of its document or targets makes a new
    version; the ``service_control_policies`` step puts the current one in place."""

    id = models.CharField(max_length=36, primary_key=True)
    payer = models.ForeignKey(Payer, on_delete=models.PROTECT, related_name="service_control_policies")
    name = models.CharField(max_length=100, help_text="Named bespoke-<name> in Organizations.")
    description = models.CharField(max_length=512, blank=True)
    document = models.JSONField(help_text="The policy document (JSON, at most 5120 characters once minified).")
    target_ous = models.JSONField(default=list, help_text="OU paths of the payer's tree it is attached to.")
    version = models.PositiveIntegerField(default=1)
    policy_id = models.CharField(max_length=130, blank=True, help_text="Its id in Organizations, once created.")
    drift = models.TextField(blank=True, help_text="What the reconciler last found changed outside Bespoke.")
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["payer__name", "name"]
        verbose_name = "service control policy"
        verbose_name_plural = "service control policies"
        constraints = [models.UniqueConstraint(fields=["payer", "name"], name="scp_name_unique_per_payer")]

    def __str__(self) -> str:
        return f"{self.payer.name}/{self.name} v{self.version}"


class ServiceControlPolicyVersion(models.Model):
    """An immutable snapshot of a service control policy."""

    policy = models.ForeignKey(ServiceControlPolicy, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    document = models.JSONField()
    target_ous = models.JSONField(default=list)
    created_at = models.DateTimeField()
    created_by = models.CharField(max_length=150, blank=True)

    class Meta:
        ordering = ["policy", "-version"]
        constraints = [models.UniqueConstraint(fields=["policy", "version"], name="one_row_per_scp_version")]

    def __str__(self) -> str:
        return f"{self.policy.name} v{self.version}"


class QuotaBucket(models.Model):
    """A token bucket shared by every worker: ``tokens`` as of ``updated_at``, refilled
    at the quota's rate up to its burst (apps/accounts/quotas.py). Its row is also the
    organization's lock for that quota."""

    organization_id = models.CharField(max_length=12, help_text="The management account id of the Organization.")
    name = models.CharField(max_length=50, help_text="The quota, e.g. CreateAccount.")
    tokens = models.FloatField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["organization_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["organization_id", "name"], name="one_bucket_per_organization_and_quota")
        ]

    def __str__(self) -> str:
        return f"{self.organization_id} {self.name}"


class AccountCommand(models.Model):
    """A command on an existing account (reapply its baseline, adopt, move, close), run by
    the workflow as a run whose request id is this command's id."""

    class Command(models.TextChoices):
        REAPPLY = "reapply"
        ADOPT = "adopt"
        MOVE = "move"
        CLOSE = "close"

    class Status(models.TextChoices):
        AWAITING_APPROVAL = "awaiting_approval"  # a close waits for a second person (four eyes)
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"  # rejected while awaiting approval

    id = models.CharField(max_length=36, primary_key=True)
    account = models.ForeignKey(ManagedAccount, on_delete=models.PROTECT, related_name="commands")
    command = models.CharField(max_length=20, choices=Command.choices)
    params = models.JSONField(default=dict, blank=True, help_text="The command's body, as validated.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING, db_index=True)
    account_status_before = models.CharField(
        max_length=20, blank=True, help_text="The account's status when the command was issued (restored if it fails)."
    )
    client_id = models.CharField(max_length=36, blank=True, help_text="The API client that issued it.")
    requested_by = models.CharField(
        max_length=80, blank=True, help_text="Who issued it (client:<id> or user:<id>); four eyes compares it."
    )
    requested_by_name = models.CharField(max_length=160, blank=True, help_text="Who issued it, as people read it.")
    approved_by = models.CharField(max_length=160, blank=True, help_text="Who approved or rejected it.")
    approved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    failure = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("approve_accountcommand", "Can approve a command awaiting approval (not one they issued)"),
            ("reject_accountcommand", "Can reject a command awaiting approval"),
        ]

    def __str__(self) -> str:
        return f"{self.command} {self.account_id} ({self.status})"

    @property
    def is_open(self) -> bool:
        """Waiting for approval or running: the account takes no other command meanwhile."""
        return self.status in (self.Status.AWAITING_APPROVAL, self.Status.RUNNING)
