"""OpenTelemetry tracing: web request → Celery task → provider call → media turn, each span with the call id.

Off by default, and then free: the code uses only OpenTelemetry's API, whose tracer is a no-op until a
provider is installed, and the request middleware is not even in the chain (`TRACING_ENABLED`). On with
`TRACING_ENABLED=True` or the standard `OTEL_EXPORTER_OTLP_ENDPOINT` (or `…_TRACES_ENDPOINT`): spans go by
OTLP over HTTP to that collector (Jaeger, Tempo, Honeycomb, an OpenTelemetry Collector…), batched on a
thread of each process (re-created after a fork, so prefork Celery children export too); `OTEL_SERVICE_NAME`
names the service (`callwright`), and the other standard `OTEL_*` variables apply.

Where spans come from:
- a request: `monitoring.middleware.TracingMiddleware` (a server span, continuing an incoming `traceparent`);
- a Celery task: Celery's signals — the publisher injects the current context into the message's headers,
  the worker starts the task's span as its child (`monitoring/celery_metrics.py`);
- a provider call or stream: each circuit breaker's `call`/`stream` (`voice/pipeline/breaker.py`);
- a media turn: the conversation host, when a turn is recorded, with its stage latencies.

The call id is not passed around: `CallIdSpanProcessor` copies the logging context's call id
(monitoring/logging.py: a call's webhook, media stream and tasks) onto every span started inside it.
"""

import os
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter

from monitoring.logging import CALL_ID

CALL_ID_ATTRIBUTE = "callwright.call_id"
tracer = trace.get_tracer("callwright")


class CallIdSpanProcessor(SpanProcessor):
    def on_start(self, span: Any, parent_context: otel_context.Context | None = None) -> None:
        if call_id := CALL_ID.get():
            span.set_attribute(CALL_ID_ATTRIBUTE, call_id)


def tracing_active() -> bool:
    """A real provider is installed (otherwise spans are no-ops, and the signal handlers skip them)."""
    return isinstance(trace.get_tracer_provider(), TracerProvider)


def tracing_configure(*, exporter: SpanExporter | None = None, batch: bool = True) -> TracerProvider:
    """Install the process's tracer provider: `exporter` (tests: an in-memory one), else OTLP over HTTP."""
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    name = os.environ.get("OTEL_SERVICE_NAME", "callwright")
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(CallIdSpanProcessor())
    provider.add_span_processor(BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return provider


def inject_context(carrier: dict[str, Any]) -> None:
    """Write the current trace context (W3C `traceparent`) into a message's headers."""
    propagate.inject(carrier)


def extract_context(carrier: Any) -> otel_context.Context:
    return propagate.extract(carrier)
