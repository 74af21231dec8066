"""Every Prometheus metric Callwright declares, in one place (served at /metrics).

Names follow Prometheus conventions: `_total` counters, `_seconds` histograms, base units only.
Labels are low-cardinality (statuses, providers, reasons, task names, campaign ids), never a phone number
or call id.

Two kinds. The metrics below are *per process*: each process counts what it does, and with
`PROMETHEUS_MULTIPROC_DIR` set (make run, docker) prometheus_client keeps them in files that the scrape adds
up across processes (gauges say how: `livesum`, `livemax`, `max`). Facts that belong to no process — the
depth of a broker queue, a campaign's calls from the database — are *computed at scrape time* by the
functions registered with `register_scrape_collector` (an app registers its own in `ready()`), into a
registry of that one request, so they are never summed across processes or left stale by one that died.
"""

import datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.core import Metric

CALL_STATUS_TRANSITIONS = Counter(
    "callwright_call_status_transitions_total", "Calls that moved to a status.", ["status"]
)
CALLS_PLACED = Counter("callwright_calls_placed_total", "Calls handed to a telephony provider.", ["provider"])
ACTIVE_CALLS = Gauge(
    "callwright_active_calls", "Calls currently connected in this process.", multiprocess_mode="livesum"
)
WEBHOOK_REQUESTS = Counter(
    "callwright_webhook_requests_total", "Provider webhooks received, by kind and result.", ["kind", "result"]
)
DIAL_GATE_DECISIONS = Counter(
    "callwright_dial_gate_decisions_total", "Dial-time gate verdicts, by verdict and reason.", ["verdict", "reason"]
)
CONTACT_IMPORT_ROWS = Counter(
    "callwright_contact_import_rows_total", "Rows of contact files imported, by result.", ["result"]
)
PROVIDER_ERRORS = Counter("callwright_provider_errors_total", "Errors from providers.", ["provider", "permanent"])
TURN_STAGE_LATENCY = Histogram(
    "callwright_turn_stage_latency_seconds",
    "Time from the callee's end of speech to each pipeline stage.",
    ["stage"],
    buckets=(0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0),
)
PLAYOUT_LAG = Histogram(
    "callwright_playout_lag_seconds",
    "How late each outbound audio frame was handed to the media stream, against its real-time schedule.",
    buckets=(0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25, 0.5, 1.0),
)
HEALTH_CHECK_FAILURES = Counter(
    "callwright_health_check_failures_total", "Failed dependency checks of /health/.", ["dependency"]
)
BEAT_LAST_TICK = Gauge(
    "callwright_beat_last_tick_timestamp_seconds",
    "Unix time of celery beat's last scheduler tick.",
    multiprocess_mode="max",
)

# ---- Celery: every task in every worker process (monitoring/celery_metrics.py, from Celery's signals) ----
CELERY_TASKS = Counter(
    "callwright_celery_tasks_total",
    "Celery tasks run, by task and outcome (succeeded, failed, retried).",
    ["task", "outcome"],
)
CELERY_TASK_DURATION = Histogram(
    "callwright_celery_task_duration_seconds",
    "How long each Celery task ran, by task.",
    ["task"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)

# ---- The media path ----------------------------------------------------------------------------------
MEDIA_FRAMES = Counter(
    "callwright_media_frames_total", "20 ms audio frames on media streams, by direction (in, out).", ["direction"]
)
BARGE_INS = Counter("callwright_barge_ins_total", "Times the callee interrupted the agent (the reply was cut).")
BREAKER_STATE = Gauge(
    "callwright_provider_breaker_state",
    "A provider's circuit breaker in this process: 0 closed, 1 half-open, 2 open (the worst live process).",
    ["breaker"],
    multiprocess_mode="livemax",
)

# ---- The business ------------------------------------------------------------------------------------
SUPPRESSIONS_ADDED = Counter(
    "callwright_suppressions_added_total",
    "Numbers put on the do-not-call list, by source (opt_out: in a call).",
    ["source"],
)

# ---- Computed at scrape time ---------------------------------------------------------------------------
ScrapeCollector = Callable[[], Iterable[Metric]]
_SCRAPE_COLLECTORS: list[ScrapeCollector] = []


def register_scrape_collector(collector: ScrapeCollector) -> None:
    """Run `collector()` at each scrape of /metrics; it yields prometheus_client metric families
    (`GaugeMetricFamily`, …) of facts that belong to no process. Registering the same function twice is a no-op."""
    if collector not in _SCRAPE_COLLECTORS:
        _SCRAPE_COLLECTORS.append(collector)


def scrape_collectors() -> list[ScrapeCollector]:
    return list(_SCRAPE_COLLECTORS)


# ---- Alert metrics: what an admin-defined alert rule may watch (monitoring/alerting.py) ------------------
@dataclass(frozen=True)
class AlertMetric:
    """`measure(window)` gives the value over the window before now, or None when there is nothing to measure
    (no call ended in the window: a ratio is undefined, and the rule keeps its state)."""

    key: str
    label: str
    measure: Callable[[datetime.timedelta], float | None]


_ALERT_METRICS: dict[str, AlertMetric] = {}


def register_alert_metric(key: str, label: str, measure: Callable[[datetime.timedelta], float | None]) -> None:
    """Offer `key` to alert rules (an app registers what it can measure in `ready()`)."""
    _ALERT_METRICS[key] = AlertMetric(key, label, measure)


def alert_metrics() -> dict[str, AlertMetric]:
    return dict(sorted(_ALERT_METRICS.items()))
