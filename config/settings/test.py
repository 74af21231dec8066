"""Tests: SQLite and in-memory layers unless DATABASE_URL / REDIS_URL point at real servers (CI)."""

from urllib.parse import urlsplit, urlunsplit

from config.settings.base import *  # noqa: F403
from config.settings.base import REDIS_URL, VAR_DIR, env

# pytest-xdist runs the suite in workers gw0, gw1, … (PYTEST_XDIST_WORKER); pytest-django gives each its own test
# database, and each gets its own Redis database and media directory here, so that one worker's flush, cache clear
# or group never meets another's. The servers a worker starts inherit the variable and land on the same ones.
XDIST_WORKER = env("PYTEST_XDIST_WORKER", default="")


def redis_url_of_worker(url: str, worker: str) -> str:
    """`url` with its database number moved up by the worker's index (gw1 of redis://h:6379/6 uses /7)."""
    parts = urlsplit(url)
    database = int(parts.path.strip("/") or 0) + int(worker.removeprefix("gw"))
    if database > 15:
        raise ValueError(f"xdist worker {worker} would need Redis database {database} of {url}: Redis has 16 (0-15)")
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


if REDIS_URL and XDIST_WORKER:
    REDIS_URL = redis_url_of_worker(REDIS_URL, XDIST_WORKER)
    CACHES["default"]["LOCATION"] = REDIS_URL
    CHANNEL_LAYERS["default"]["CONFIG"]["hosts"] = [REDIS_URL]
    CELERY_BROKER_URL = CELERY_RESULT_BACKEND = REDIS_URL

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
MEDIA_ROOT = str(VAR_DIR / f"test-media{'-' if XDIST_WORKER else ''}{XDIST_WORKER}")

# Webhook signatures are checked against the test client's origin; the simulated carrier of a test
# that has no live server then fails fast instead of calling whatever listens on 127.0.0.1:8000.
PUBLIC_BASE_URL = "http://testserver"
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A test database need not survive a crash: a commit (each transactional test's flush among them) does not
    # wait for the disk (https://www.postgresql.org/docs/current/wal-async-commit.html).
    DATABASES["default"]["OPTIONS"]["options"] = "-c synchronous_commit=off"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not memory: end-to-end tests serve the test database from a separate server process.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-callwright.sqlite3")}

# Tests send many API requests from one address within a minute; the throttle tests set their own rates.
API_RATE_PER_TOKEN = API_RATE_PER_IP = "1000000/min"
# django-axes off (its backend refuses `Client.login()`, which passes no request); the lockout tests turn it on.
AXES_ENABLED = False
# Test receivers listen on 127.0.0.1; the address checks' tests turn this off.
WEBHOOKS_ALLOW_PRIVATE_URLS = True
