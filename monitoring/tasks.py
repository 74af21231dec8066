from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from monitoring.health import HEARTBEAT_CACHE_KEY, HEARTBEAT_STALE_AFTER_SECONDS


@shared_task(name="monitoring.record_worker_heartbeat", ignore_result=True)
def record_worker_heartbeat() -> None:
    """Beat → worker liveness probe: /health/ reports how long ago a worker last ran this."""
    cache.set(HEARTBEAT_CACHE_KEY, timezone.now(), timeout=HEARTBEAT_STALE_AFTER_SECONDS * 10)
