"""Production: PostgreSQL, Redis, secrets only from the environment, hardened HTTP.

Start-up stops with the names of every missing required variable rather than at the first one.
"""

import os

from django.core.exceptions import ImproperlyConfigured

REQUIRED_ENVIRONMENT = ("DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS")

_missing = [name for name in REQUIRED_ENVIRONMENT if not os.environ.get(name, "").strip()]
if _missing:
    raise ImproperlyConfigured(
        "Production settings need these environment variables, which are missing or empty: " + ", ".join(_missing)
    )

from config.settings.base import *  # noqa: E402, F403
from config.settings.base import LOGGING, env  # noqa: E402

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")

# SECURITY (https://docs.djangoproject.com/en/5.2/howto/deployment/checklist/)
# ------------------------------------------------------------------------------
# TLS ends at the proxy: trust its X-Forwarded-Proto so request URLs (and Twilio signatures) are https.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
USE_X_FORWARDED_HOST = env.bool("DJANGO_USE_X_FORWARDED_HOST", default=True)
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics$"]  # probes speak plain http inside the network
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True

# Webhook deliveries carry personal data (transcripts, numbers, extracted fields): the HMAC signature proves who
# sent them, not that nobody read them on the way, so production sends them over https only.
WEBHOOKS_REQUIRE_HTTPS = env.bool("WEBHOOKS_REQUIRE_HTTPS", default=True)

# LOGS: one JSON object a line for a log collector, unless LOG_FORMAT says otherwise.
LOG_FORMAT = env("LOG_FORMAT", default="json")
LOGGING["handlers"]["console"]["formatter"] = LOG_FORMAT
