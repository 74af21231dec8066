"""Django for benchmarks: PostgreSQL at BENCH_DATABASE_URL (created and migrated if missing), DEBUG off."""

import os

import psycopg

from bench.harness import DEFAULT_BENCH_DATABASE_URL


def setup_django(*, redis_url: str = "") -> str:
    """Configure Django on the benchmark database and return its URL. Tasks are published, never run."""
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_BENCH_DATABASE_URL)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        DJANGO_DEBUG="False",  # DEBUG keeps every query in memory
        DATABASE_URL=url,
        CELERY_BROKER_URL="memory://",
        REDIS_URL=redis_url,
        DJANGO_LOG_LEVEL="WARNING",
    )
    _create_database(url)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    return url


def _create_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
