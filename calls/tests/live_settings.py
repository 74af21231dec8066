"""Settings of the server process (config.server) that serves end-to-end tests (calls/tests/test_simulated_calls.py).

The test settings (eager Celery, no broker to leave messages in), with the origin the process
really listens on, so the TwiML it answers points the simulated carrier's media stream back at it.
"""

from config.settings.test import *  # noqa: F403
from config.settings.test import env

PUBLIC_BASE_URL = env("PUBLIC_BASE_URL")
DATABASES["default"].pop("TEST", None)  # noqa: F405 - DATABASE_URL already names the test database
