from django.apps import AppConfig


class TasksConfig(AppConfig):
    name = "tasks"
    label = "tasks"
    verbose_name = "Messaging"

    def ready(self) -> None:
        from apps.kernel import outbox
        from tasks import consumers  # noqa: F401  (registers the Celery tasks)
        from tasks.relay import publish

        outbox.set_publisher(publish)
