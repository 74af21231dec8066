from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from monitoring.health import health_report


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """200 when every required dependency answers, 503 otherwise; JSON per dependency either way."""
    healthy, checks = health_report()
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks}, status=200 if healthy else 503
    )
