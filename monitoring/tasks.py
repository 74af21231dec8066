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


ALERT_EVALUATION_SECONDS = 60


@shared_task(name="monitoring.evaluate_alert_rules", ignore_result=True, expires=ALERT_EVALUATION_SECONDS - 10)
def evaluate_alert_rules() -> None:
    """Beat, every minute: the admin's alert rules (monitoring/alerting.py). Expires before the next tick, so
    ticks queued while no worker ran are dropped rather than evaluated in a burst."""
    from monitoring.alerting import alert_rules_evaluate

    alert_rules_evaluate()


@shared_task(
    name="monitoring.send_alert_notification",
    bind=True,
    ignore_result=True,
    max_retries=6,
    default_retry_delay=10,
)
def send_alert_notification(self, event_id: int) -> None:
    """One alert's e-mail or Slack message; retried with backoff (10 s, 20 s … 5 min) while the channel fails."""
    from monitoring.alerting import NotificationFailed, alert_event_notify

    try:
        alert_event_notify(event_id=event_id)
    except NotificationFailed as error:
        raise self.retry(exc=error, countdown=min(10 * 2**self.request.retries, 300)) from error
