from django.apps import AppConfig


class TasksConfig(AppConfig):
    name = "tasks"
    label = "tasks"
    verbose_name = "Messaging"

    def ready(self) -> None:
        from apps.kernel import deadletters, outbox
        from tasks import checks, consumers, periodic  # noqa: F401  (registers the checks and Celery tasks)
        from tasks.deadletters import redrive
        from tasks.relay import publish_stored

        outbox.set_publisher(publish_stored)
        deadletters.set_redriver(redrive)
