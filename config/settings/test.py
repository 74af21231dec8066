"""Tests: SQLite and in-memory layers unless DATABASE_URL / REDIS_URL point at real servers (CI)."""

from config.settings.base import *  # noqa: F403
from config.settings.base import REDIS_URL, VAR_DIR

DEBUG = False
SECRET_KEY = "test-secret-key-for-the-test-suite-only-0123456789abcdef"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

if not REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # Tasks run inline unless a real broker is configured; enqueue paths stay the same.
    CELERY_BROKER_URL = "memory://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {}

CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
SETTLEMENT_BATCH_SECONDS = 0  # settled as the call ends, so a test sees it at once
MEDIA_ROOT = str(VAR_DIR / "test-media")

# Webhook signatures are checked against the test client's origin; the simulated carrier of a test
# that has no live server then fails fast instead of calling whatever listens on 127.0.0.1:8000.
PUBLIC_BASE_URL = "http://testserver"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory: end-to-end tests serve the test database from a separate server process.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-callwright.sqlite3")}

# Tests send many API requests from one address within a minute; the throttle tests set their own rates.
API_RATE_PER_TOKEN = API_RATE_PER_IP = "1000000/min"
# django-axes off (its backend refuses `Client.login()`, which passes no request); the lockout tests turn it on.
AXES_ENABLED = False
# Test receivers listen on 127.0.0.1; the address checks' tests turn this off.
WEBHOOKS_ALLOW_PRIVATE_URLS = True
