"""Dependency checks behind /health/: database, cache, Celery broker (and the worker's heartbeat).

Each check returns a `CheckResult`; a failing *required* check makes the endpoint answer 503 so a
load balancer or orchestrator takes the instance out. The worker heartbeat is reported but not
required: web requests keep working while workers restart.
"""

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from celery import current_app
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from monitoring.metrics import HEALTH_CHECK_FAILURES

HEARTBEAT_CACHE_KEY = "callwright:worker-heartbeat"
HEARTBEAT_STALE_AFTER_SECONDS = 120
BROKER_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    required: bool
    latency_ms: float
    detail: str = ""


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_cache() -> None:
    key = "callwright:health-probe"
    token = str(time.monotonic_ns())
    cache.set(key, token, timeout=30)
    if cache.get(key) != token:
        raise RuntimeError("value written to the cache could not be read back")


def check_broker() -> None:
    """The project's Celery app (the current one: monitoring imports no configuration module) reaches its broker."""
    with current_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)


def check_worker_heartbeat() -> None:
    beat = cache.get(HEARTBEAT_CACHE_KEY)
    if beat is None:
        raise RuntimeError("no heartbeat from a Celery worker yet")
    age = (timezone.now() - beat).total_seconds()
    if age > HEARTBEAT_STALE_AFTER_SECONDS:
        raise RuntimeError(f"last worker heartbeat {age:.0f} s ago")


CHECKS: dict[str, tuple[Callable[[], None], bool]] = {
    "database": (check_database, True),
    "cache": (check_cache, True),
    "broker": (check_broker, True),
    "worker": (check_worker_heartbeat, False),
}


def run_checks() -> dict[str, CheckResult]:
    results = {}
    for name, (check, required) in CHECKS.items():
        started = time.perf_counter()
        try:
            check()
        except Exception as error:  # any failure of a dependency is a result, not a crash
            if required:
                HEALTH_CHECK_FAILURES.labels(dependency=name).inc()
            ok, detail = False, f"{type(error).__name__}: {error}"[:300]
        else:
            ok, detail = True, ""
        results[name] = CheckResult(ok, required, round((time.perf_counter() - started) * 1000, 2), detail)
    return results


def health_report() -> tuple[bool, dict[str, dict]]:
    results = run_checks()
    healthy = all(result.ok for result in results.values() if result.required)
    return healthy, {name: asdict(result) for name, result in results.items()}
