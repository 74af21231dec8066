"""Dependency checks behind /health/: database, cache, Celery broker, channel layer (and, reported only, the
worker's heartbeat and the providers' circuit breakers); and readiness, which also waits for migrations.

Each check returns a `CheckResult`; a failing *required* check makes the endpoint answer 503 so a
load balancer or orchestrator takes the instance out. The worker heartbeat and the breakers are reported
but not required: web requests keep working while workers restart, and an open breaker is a provider's
outage, which taking this instance out would not cure (the alert rules page for it).
"""

import asyncio
import datetime
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass

from asgiref.sync import async_to_sync
from celery import current_app
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

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


CHANNEL_LAYER_TIMEOUT_SECONDS = 2.0
BREAKER_STATES = {0: "closed", 1: "half_open", 2: "open"}


def check_channel_layer() -> None:
    """A message sent on the channel layer (Redis across processes) comes back: live calls' events ride on it."""
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer is configured")

    async def round_trip() -> None:
        channel = await layer.new_channel("health.")
        token = uuid.uuid4().hex
        async with asyncio.timeout(CHANNEL_LAYER_TIMEOUT_SECONDS):
            await layer.send(channel, {"type": "health.probe", "token": token})
            message = await layer.receive(channel)
        if message.get("token") != token:
            raise RuntimeError("the channel layer returned another message")

    async_to_sync(round_trip)()


def breaker_states() -> dict[str, str]:
    """Each provider breaker's state, the worst over this machine's live processes (the multiprocess folder
    when set: the breakers live in the web processes that carry calls, not only in the one answering)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    states: dict[str, str] = {}
    for family in registry.collect():
        if family.name == "callwright_provider_breaker_state":
            for sample in family.samples:
                states[sample.labels["breaker"]] = BREAKER_STATES.get(int(sample.value), str(sample.value))
    return dict(sorted(states.items()))


def check_provider_breakers() -> None:
    tripped = {name: state for name, state in breaker_states().items() if state != "closed"}
    if tripped:
        raise RuntimeError(", ".join(f"{name} {state}" for name, state in tripped.items()))


CHECKS: dict[str, tuple[Callable[[], None], bool]] = {
    "database": (check_database, True),
    "cache": (check_cache, True),
    "broker": (check_broker, True),
    "channel_layer": (check_channel_layer, True),
    "worker": (check_worker_heartbeat, False),
    "providers": (check_provider_breakers, False),
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


def pending_migrations() -> list[str]:
    """The migrations this code has that the database lacks ("calls.0004_…"), in the order they would run.

    Asked afresh each time (a few milliseconds once the migration modules are imported): a rollback may
    unapply migrations under a running process."""
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _backwards in plan]


def readiness_report() -> tuple[bool, dict[str, object]]:
    """Ready to serve: every required dependency answers and no migration is pending."""
    healthy, checks = health_report()
    try:
        pending = pending_migrations()
    except Exception as error:  # the database is down: the database check already says so
        pending = [f"unknown ({type(error).__name__})"]
    return healthy and not pending, {"checks": checks, "pending_migrations": pending}


NO_HEARTBEAT_SECONDS = 1e9  # what the alert metric says when no worker ever answered (or the cache lost it)


def worker_heartbeat_age(_window: datetime.timedelta) -> float:
    """Seconds since a worker last ran beat's heartbeat task (an alert metric; the window does not apply)."""
    beat = cache.get(HEARTBEAT_CACHE_KEY)
    return NO_HEARTBEAT_SECONDS if beat is None else (timezone.now() - beat).total_seconds()
