import logging

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from monitoring.health import HEARTBEAT_CACHE_KEY, HEARTBEAT_STALE_AFTER_SECONDS

logger = logging.getLogger(__name__)


@shared_task(name="monitoring.record_worker_heartbeat", ignore_result=True)
def record_worker_heartbeat() -> None:
    """Beat → worker liveness probe: /health/ reports how long ago a worker last ran this."""
    cache.set(HEARTBEAT_CACHE_KEY, timezone.now(), timeout=HEARTBEAT_STALE_AFTER_SECONDS * 10)


@shared_task(
    name="monitoring.back_up_database", ignore_result=True, time_limit=3 * 60 * 60, soft_time_limit=3 * 60 * 60 - 60
)
def back_up_database() -> None:
    """Beat's daily backup (monitoring/backups.py). A demo on SQLite has nothing for pg_dump: one line, no error."""
    from pathlib import Path

    from django.conf import settings
    from django.db import connection

    from monitoring.backups import backup_create

    if connection.vendor != "postgresql":
        logger.info("backup skipped: the database is %s, not PostgreSQL", connection.vendor)
        return
    backup_create(directory=Path(settings.BACKUP_DIR), keep_days=settings.BACKUP_KEEP_DAYS)
