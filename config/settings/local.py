"""The demo and development defaults: SQLite, simulated providers, no keys, no servers."""

from config.settings.base import *  # noqa: F403
from config.settings.base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
# Only for a machine's own demo; production.py has no default and refuses to start without one.
SECRET_KEY = env("DJANGO_SECRET_KEY", default="local-demo-secret-key-not-for-production-use-0123456789")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")  # mail printed
WHITENOISE_USE_FINDERS = True  # serve admin assets without a collectstatic step
# The demo's webhook receivers listen on this machine (the README's example on 127.0.0.1:9000).
WEBHOOKS_ALLOW_PRIVATE_URLS = env.bool("WEBHOOKS_ALLOW_PRIVATE_URLS", default=True)
