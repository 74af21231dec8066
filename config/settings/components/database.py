"""DATABASE_URL → Django's DATABASES entry, tuned per engine."""

from typing import Any

import environ


def database_from_url(url: str, *, pool_max_size: int) -> dict[str, Any]:
    """Build a DATABASES entry for `url`.

    SQLite (the demo) is shared by three processes (web, worker, beat), so it runs in WAL mode with a
    busy timeout and `BEGIN IMMEDIATE` transactions; otherwise they meet "database is locked".
    PostgreSQL uses Django's psycopg pool with `CONN_MAX_AGE = 0`: under ASGI each request runs on a
    fresh thread, and persistent per-thread connections leak one session per request.

    Connections are checked before use, so one the server dropped (a restart, `pg_terminate_backend`, a
    proxy's idle timeout) is replaced instead of failing a request: `CONN_HEALTH_CHECKS`, which Django 5.1+
    also hands to the pool as its `check` (psycopg_pool's `ConnectionPool.check_connection`, an empty
    query each time a connection leaves the pool).
    """
    config = environ.Env.db_url_config(url)
    engine = config["ENGINE"]
    options = config.setdefault("OPTIONS", {})
    if engine == "django.db.backends.sqlite3":
        options.setdefault(
            "init_command",
            "PRAGMA journal_mode=WAL;PRAGMA synchronous=NORMAL;PRAGMA busy_timeout=20000;",
        )
        options.setdefault("transaction_mode", "IMMEDIATE")
        options.setdefault("timeout", 20)
    elif engine == "django.db.backends.postgresql":
        config["CONN_MAX_AGE"] = 0
        if pool_max_size > 0:
            options.setdefault("pool", {"min_size": 1, "max_size": pool_max_size, "timeout": 10})
    config.setdefault("ATOMIC_REQUESTS", False)
    config.setdefault("CONN_HEALTH_CHECKS", True)
    return config
