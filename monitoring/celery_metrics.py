"""Celery's signals, for operations: every task counted and timed, an HTTP endpoint for those metrics, and the
call id bound for the log lines of a task that is about a call.

A task given a `call_id` (by keyword, or as its first parameter) runs inside `call_context`, so every line it
logs names the call (monitoring/logging.py).

Each task's run is timed from `task_prerun` to `task_postrun` in the process that ran it, and counted by its
final state: succeeded, failed, or retried (a `self.retry()`/`autoretry_for` that raised `Retry`). The
signals fire in prefork children and for eager tasks alike.

Serving them: under `make run` every process shares one `PROMETHEUS_MULTIPROC_DIR`, so web's /metrics already
adds up the workers and beat. In docker each container has its own folder, so a worker, the dialer and beat
each serve theirs on `METRICS_PORT` (Prometheus scrapes them inside the compose network): the server starts in
the parent process (`worker_init`, `beat_init`) and reads the folder its children write, which is the fix for
the parent-only exporter that stops updating after the fork (django-prometheus #339). A child that exits is
marked dead so its live gauges stop counting.
"""

import contextvars
import functools
import inspect
import os
import time
from wsgiref.simple_server import WSGIServer

from celery.signals import (
    beat_init,
    before_task_publish,
    task_postrun,
    task_prerun,
    worker_init,
    worker_process_shutdown,
)
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from monitoring.logging import CALL_ID
from monitoring.metrics import CELERY_TASK_DURATION, CELERY_TASKS
from monitoring.tracing import extract_context, inject_context, tracer, tracing_active

OUTCOMES = {"SUCCESS": "succeeded", "FAILURE": "failed", "RETRY": "retried"}
_started: dict[str, float] = {}
_call_tokens: dict[str, contextvars.Token[str]] = {}
_spans: dict[str, tuple[trace.Span, object]] = {}  # task id → its span and the context token to detach


@functools.cache
def _takes_call_id_first(run: object) -> bool:
    try:
        return next(iter(inspect.signature(run).parameters), "") == "call_id"  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def call_id_of(task: object, args: object, kwargs: object) -> str:
    if isinstance(kwargs, dict) and kwargs.get("call_id"):
        return str(kwargs["call_id"])
    if isinstance(args, list | tuple) and args and _takes_call_id_first(getattr(task, "run", None)):
        return str(args[0])
    return ""


@task_prerun.connect(dispatch_uid="callwright-task-prerun")
def task_started(
    task_id: str | None = None, task: object = None, args: object = None, kwargs: object = None, **_kwargs: object
) -> None:
    if task_id is None:
        return
    _started[task_id] = time.perf_counter()
    if call_id := call_id_of(task, args, kwargs):
        _call_tokens[task_id] = CALL_ID.set(call_id)
    if tracing_active():
        _start_task_span(task_id, task)


@before_task_publish.connect(dispatch_uid="callwright-trace-publish")
def carry_trace_context(headers: dict | None = None, **_kwargs: object) -> None:
    """The publisher's trace context rides in the message's headers to the worker (W3C traceparent)."""
    if headers is not None and tracing_active():
        inject_context(headers)


def _start_task_span(task_id: str, task: object) -> None:
    request = getattr(task, "request", None)
    parent = extract_context(request) if request is not None else None
    if parent is not None and not trace.get_current_span(parent).get_span_context().is_valid:
        parent = None  # no context came with the message (an eager task): the current one is the parent
    name = getattr(task, "name", None) or "unknown"
    span = tracer.start_span(f"celery.task {name}", context=parent, kind=SpanKind.CONSUMER,
                             attributes={"celery.task_name": name, "celery.task_id": task_id})  # fmt: skip
    _spans[task_id] = (span, otel_context.attach(trace.set_span_in_context(span)))


@task_postrun.connect(dispatch_uid="callwright-task-postrun")
def task_finished(task_id: str | None = None, task: object = None, state: str | None = None, **_kwargs: object) -> None:
    if task_id is not None and (traced := _spans.pop(task_id, None)) is not None:
        span, context_token = traced
        span.set_attribute("celery.state", state or "")
        if state == "FAILURE":
            span.set_status(Status(StatusCode.ERROR))
        span.end()
        otel_context.detach(context_token)
    if task_id is not None and (token := _call_tokens.pop(task_id, None)) is not None:
        CALL_ID.reset(token)
    started = _started.pop(task_id, None) if task_id is not None else None
    name = getattr(task, "name", None) or "unknown"
    CELERY_TASKS.labels(task=name, outcome=OUTCOMES.get(state or "", (state or "unknown").lower())).inc()
    if started is not None:
        CELERY_TASK_DURATION.labels(task=name).observe(time.perf_counter() - started)


def start_metrics_server() -> WSGIServer | None:
    """Serve this process tree's metrics on METRICS_PORT (multiprocess folder required), on a daemon thread."""
    port = os.environ.get("METRICS_PORT", "")
    if not port or not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return None
    from monitoring.metrics_server import serve_multiprocess_metrics

    return serve_multiprocess_metrics(int(port))


@worker_init.connect(dispatch_uid="callwright-worker-metrics-server")
def serve_worker_metrics(**_kwargs: object) -> None:
    start_metrics_server()


@beat_init.connect(dispatch_uid="callwright-beat-metrics-server")
def serve_beat_metrics(**_kwargs: object) -> None:
    start_metrics_server()


@worker_process_shutdown.connect(dispatch_uid="callwright-worker-process-dead")
def forget_dead_child(pid: int | None = None, **_kwargs: object) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())
