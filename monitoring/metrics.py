"""Every Prometheus metric Callwright declares, in one place (served at /metrics).

Names follow Prometheus conventions: `_total` counters, `_seconds` histograms, base units only.
Labels are low-cardinality (statuses, providers, reasons), never a phone number or call id.
"""

from prometheus_client import Counter, Gauge, Histogram

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
