"""WSGI entry point, for management tooling only: Callwright is served by uvicorn (config.server, config.asgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
application = get_wsgi_application()
