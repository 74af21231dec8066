"""django-prometheus' request metrics, run synchronously so an ASGI request pays one thread hop, not eight.

Under ASGI Django runs the middleware chain async wherever it can. An async-capable `MiddlewareMixin`
then runs each of its hooks through `sync_to_async` (a thread hop), and every switch between sync and
async middleware (WhiteNoise is sync-only) adds another. Every view we serve is synchronous, so the
cheapest chain is a fully synchronous one: marking the outermost and innermost middleware sync-only
makes Django adapt the whole chain once, with the same metrics (BENCHMARKS.md has what it saves).
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django_prometheus import middleware as django_prometheus
from opentelemetry.trace import SpanKind, Status, StatusCode

from monitoring.tracing import CALL_ID_ATTRIBUTE, extract_context, tracer


class PrometheusBeforeMiddleware(django_prometheus.PrometheusBeforeMiddleware):
    """First in MIDDLEWARE: counts requests and times the whole chain."""

    async_capable = False


class PrometheusAfterMiddleware(django_prometheus.PrometheusAfterMiddleware):
    """Last in MIDDLEWARE: metrics by view, method and status."""

    async_capable = False


class TracingMiddleware:
    """A server span per request, continuing the caller's `traceparent` (monitoring/tracing.py); in MIDDLEWARE
    only while tracing is on (`TRACING_ENABLED`), right after the request metrics. Sync-only, like them."""

    sync_capable = True
    async_capable = False

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        parent = extract_context(request.headers)
        attributes = {"http.request.method": request.method or "", "url.path": request.path}
        with tracer.start_as_current_span(
            f"HTTP {request.method}", context=parent, kind=SpanKind.SERVER, attributes=attributes
        ) as span:
            response = self.get_response(request)
            span.set_attribute("http.response.status_code", response.status_code)
            if (match := request.resolver_match) is not None:
                span.update_name(f"{request.method} {match.route}")
                span.set_attribute("http.route", match.route)
                if "call_id" in match.kwargs:
                    span.set_attribute(CALL_ID_ATTRIBUTE, str(match.kwargs["call_id"]))
            if response.status_code >= 500:
                span.set_status(Status(StatusCode.ERROR))
            return response
