import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings.local")

application = get_wsgi_application()

from django.conf import settings  # noqa: E402  (configured by get_wsgi_application)

from apps.kernel import outbox  # noqa: E402

# Only a web server's processes relay from a thread: they live long and answer clients.
outbox.relay_in_background(bool(getattr(settings, "OUTBOX_RELAY_IN_BACKGROUND", False)))
