"""Settings of the server process (config.server) that serves end-to-end tests (calls/tests/live_server.py).

The test settings (eager Celery, no broker to leave messages in), with the origin the process
really listens on, so the TwiML it answers points the simulated carrier's media stream back at it.
"""

from config.settings.test import *  # noqa: F403
from config.settings.test import env

PUBLIC_BASE_URL = env("PUBLIC_BASE_URL")
DATABASES["default"].pop("TEST", None)  # noqa: F405 - DATABASE_URL already names the test database

# A cache shared with the test process (a directory both use), when there is no Redis: the simulated carrier runs
# in the test process, and a hang-up asked of this server reaches it through the cache, as between demo processes.
SHARED_CACHE_DIR = env("SHARED_CACHE_DIR", default="")
if SHARED_CACHE_DIR:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": SHARED_CACHE_DIR}
    }
