"""Tracing, captured with OpenTelemetry's in-memory exporter: a request's span, a task's span in a real worker
(the context crossing the broker in the message's headers), provider and media-turn spans, the call id on each."""

import asyncio
import uuid
from collections.abc import Iterator, Sequence

import pytest
from celery import Celery
from celery.contrib.testing.worker import start_worker
from django.conf import settings as django_settings
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from calls.conversation_host import record_turn_span
from config import celery_app
from monitoring.logging import CALL_ID, call_context
from monitoring.tracing import CALL_ID_ATTRIBUTE, tracing_active, tracing_configure
from voice.pipeline.breaker import CircuitBreaker
from voice.pipeline.host import TurnRecord
from voice.providers.base import ProviderError


class Collecting(SpanExporter):
    """Forwards to the in-memory exporter while a test of this module runs; drops spans otherwise (the
    process's tracer provider can be installed only once, and outlives the module)."""

    target: InMemorySpanExporter | None = None

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self.target is not None:
            return self.target.export(spans)
        return SpanExportResult.SUCCESS


COLLECTING = Collecting()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    if not tracing_active():
        tracing_configure(exporter=COLLECTING, batch=False)
    COLLECTING.target = InMemorySpanExporter()
    try:
        yield COLLECTING.target
    finally:
        COLLECTING.target = None


def named(exporter: InMemorySpanExporter, name: str) -> ReadableSpan:
    matches = [span for span in exporter.get_finished_spans() if span.name == name]
    assert len(matches) == 1, [span.name for span in exporter.get_finished_spans()]
    return matches[0]


def test_tracing_is_off_by_default():
    assert django_settings.TRACING_ENABLED is False
    assert "monitoring.middleware.TracingMiddleware" not in django_settings.MIDDLEWARE


boundary = Celery("trace-boundary", broker="memory://", backend="cache+memory://", set_as_current=False)
boundary.conf.broker_transport_options = {"polling_interval": 0.01}  # the memory transport polls each 1 s


@boundary.task(name="monitoring.tests.about_a_call")
def about_a_call(call_id: str) -> str:
    return CALL_ID.get()


def test_a_tasks_span_in_a_worker_continues_the_publishers_trace_with_the_call_id(spans):
    call_id = str(uuid.uuid4())
    tracer = trace.get_tracer("test")
    try:
        with start_worker(boundary, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            with tracer.start_as_current_span("web request") as request_span:
                result = about_a_call.delay(call_id=call_id)
            assert result.get(timeout=30) == call_id  # the worker (another thread, no shared context) bound it too
    finally:
        celery_app.set_current()  # start_worker made its app the current and default one
        celery_app.set_default()
    task = named(spans, "celery.task monitoring.tests.about_a_call")
    assert task.context.trace_id == request_span.get_span_context().trace_id
    assert task.parent.span_id == request_span.get_span_context().span_id
    assert task.kind == trace.SpanKind.CONSUMER
    assert task.attributes[CALL_ID_ATTRIBUTE] == call_id


@pytest.mark.django_db
def test_a_request_span_continues_an_incoming_traceparent_and_names_the_call(client, settings, spans):
    settings.MIDDLEWARE = [settings.MIDDLEWARE[0], "monitoring.middleware.TracingMiddleware", *settings.MIDDLEWARE[1:]]
    call_id = uuid.uuid4()
    trace_id, parent_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    response = client.post(f"/twilio/status/{call_id}/", headers={"traceparent": f"00-{trace_id}-{parent_id}-01"})
    assert response.status_code == 403  # unsigned: refused, and traced all the same
    span = named(spans, "POST twilio/status/<uuid:call_id>/")
    assert format(span.context.trace_id, "032x") == trace_id
    assert format(span.parent.span_id, "016x") == parent_id
    assert span.attributes["http.response.status_code"] == 403
    assert span.attributes[CALL_ID_ATTRIBUTE] == str(call_id)


def test_a_failing_provider_call_is_an_error_span_of_its_call(spans):
    breaker = CircuitBreaker("llm:trace-test")

    async def failing() -> None:
        raise ProviderError("model overloaded", permanent=False)

    with call_context("call-7"), pytest.raises(ProviderError):
        asyncio.run(breaker.call(failing))
    span = named(spans, "provider llm:trace-test")
    assert span.status.status_code == StatusCode.ERROR
    assert span.attributes[CALL_ID_ATTRIBUTE] == "call-7"


def test_a_streamed_provider_call_is_one_span(spans):
    breaker = CircuitBreaker("tts:trace-test")

    async def chunks():
        for chunk in (b"a", b"b"):
            yield chunk

    async def consume() -> list[bytes]:
        return [chunk async for chunk in breaker.stream(chunks)]

    assert asyncio.run(consume()) == [b"a", b"b"]
    assert named(spans, "provider tts:trace-test").status.status_code == StatusCode.UNSET


def test_a_media_turn_is_a_span_over_its_own_times_with_its_latencies(spans):
    turn = TurnRecord(index=2, role="agent", text="Hello", started_at=1_800_000_000.0, ended_at=1_800_000_002.5,
                      latency_ms={"stt_final": 120, "first_audio_sent": 640})  # fmt: skip
    with call_context("call-9"):
        record_turn_span(turn)
    span = named(spans, "media turn")
    assert (span.start_time, span.end_time) == (1_800_000_000 * 10**9, 1_800_000_002_500_000_000)
    assert span.attributes["callwright.latency_ms.first_audio_sent"] == 640
    assert span.attributes[CALL_ID_ATTRIBUTE] == "call-9"
