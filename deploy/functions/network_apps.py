"""The messaging layer as the peeled network function installs it.

``tasks.apps.TasksConfig`` also loads the monolith's periodic jobs (``tasks.periodic``:
workflow's stuck-run sweeper) and the dead-letter redriver (``tasks.deadletters``:
intake), which import other contexts; both run in the monolith. A peeled function needs
the Celery tasks (``tasks.consumers``) and the outbox relay, nothing more.
"""

from django.apps import AppConfig


class PeeledMessagingConfig(AppConfig):
    name = "tasks"
    label = "tasks"
    verbose_name = "Messaging (peeled function)"

    def ready(self) -> None:
        from apps.kernel import outbox
        from tasks import consumers  # noqa: F401  (registers the Celery tasks)
        from tasks.relay import publish_stored

        outbox.set_publisher(publish_stored)
