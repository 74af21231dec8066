from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from monitoring.exposition import metrics_refusal, metrics_text
from monitoring.health import breaker_states, health_report, readiness_report


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """200 when every required dependency answers, 503 otherwise; JSON per dependency either way."""
    healthy, checks = health_report()
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks, "breakers": breaker_states()},
        status=200 if healthy else 503,
    )


@never_cache
@require_GET
def ready(request: HttpRequest) -> JsonResponse:
    """Readiness: /health/'s required checks, and 503 while a migration of this code is not applied yet
    (a new version's web process started before its `migrate` step: it would fail on the missing tables)."""
    is_ready, report = readiness_report()
    return JsonResponse({"status": "ready" if is_ready else "not ready", **report}, status=200 if is_ready else 503)


@never_cache
@require_GET
def live(request: HttpRequest) -> HttpResponse:
    """Liveness: 200 whenever this process answers HTTP, whatever its dependencies.

    What docker's probe and the proxy ask: a web process that cannot reach PostgreSQL is not stuck and
    restarting it would not help, so dependencies are /health/'s business, not this one's.
    """
    return HttpResponse("ok\n", content_type="text/plain")


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text of every process and of the scrape-time collectors, to a holder of the token or a
    client in the allowed networks only (monitoring/exposition.py)."""
    if (refusal := metrics_refusal(request)) is not None:
        return refusal
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE_LATEST)
