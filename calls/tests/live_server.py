"""The project served as in production (`config.server`, uvicorn) for end-to-end tests, on the test database.

The root conftest.py serves it once per test session (`live_server_url`); a test module that needs it served
with other settings starts its own with `serve_live`.
"""

import contextlib
import os
import subprocess
import tempfile

from django.db import connection

from config.server import reserve, spawn


def database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@contextlib.contextmanager
def serve_live(django_db_blocker, **extra_env: str):
    """The project served by `config.server` (as in production) on a port of its own, on the test database.

    Yields its base URL once it listens; stops it (SIGTERM, then SIGKILL) at exit.
    """
    with django_db_blocker.unblock():
        url = database_url()
    reserved = reserve()
    base = f"http://127.0.0.1:{reserved.getsockname()[1]}"
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "calls.tests.live_settings",
        "DATABASE_URL": url,
        "PUBLIC_BASE_URL": base,
        "TELEPHONY_PROVIDER": "simulated",
        # The conversation paces its audio on the carrier's clock (use_carrier below).
        "SIMULATED_CARRIER_TIME_SCALE": "0.1",
        **extra_env,
    }
    # A file, not a pipe: nobody reads the server's log while it runs, and a full pipe would block it.
    with tempfile.TemporaryFile() as log:
        try:
            server = spawn(reserved, env=env, stderr=log)
        except RuntimeError as error:
            log.seek(0)
            raise RuntimeError(f"{error}: {log.read().decode()}") from None
        try:
            yield base
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:  # a server stuck in shutdown must not outlive the test run
                server.kill()
                server.wait(timeout=10)


def use_carrier(settings, base_url: str):
    """The simulated carrier of this (the placing) process, at ten times real time, calling `base_url`."""
    settings.PUBLIC_BASE_URL = base_url
    settings.TELEPHONY_PROVIDER = "simulated"
    settings.SIMULATED_CARRIER_TIME_SCALE = 0.1
    settings.SIMULATED_CARRIER_CHAOS = False
    settings.SIMULATED_CARRIER_PERSONA = ""
    return settings
