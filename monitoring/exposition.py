"""What /metrics answers, and to whom.

The text is the per-process metrics — added up across processes from `PROMETHEUS_MULTIPROC_DIR` when set
(django-prometheus' own view does the same), else this process's registry — followed by the metrics computed
at scrape time (`monitoring.metrics.register_scrape_collector`: queue depths, campaigns' figures). A
collector that fails is left out of that scrape and logged; the rest is still served.

Who may read it: with `METRICS_TOKEN` set, a request carrying `Authorization: Bearer <token>` (compared in
constant time); without it, a client whose address is in `METRICS_ALLOWED_NETWORKS` (loopback and the
private ranges by default: Prometheus beside the app, never the internet). Caddy also answers /metrics with
404 from outside.
"""

import hmac
import ipaddress
import logging
import os
from collections.abc import Iterator

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.multiprocess import MultiProcessCollector

from monitoring.metrics import scrape_collectors

logger = logging.getLogger(__name__)


class _ScrapeTimeCollector:
    def collect(self) -> Iterator[Metric]:
        for collector in scrape_collectors():
            try:
                yield from list(collector())
            except Exception:  # a failing collector must not take /metrics down with it
                logger.warning("metrics collector %s failed", getattr(collector, "__name__", collector), exc_info=True)


def metrics_text() -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    at_scrape = CollectorRegistry(auto_describe=False)
    at_scrape.register(_ScrapeTimeCollector())
    return generate_latest(registry) + generate_latest(at_scrape)


def metrics_refusal(request: HttpRequest) -> HttpResponse | None:
    """None when `request` may read /metrics; otherwise the response that says why not."""
    token = settings.METRICS_TOKEN
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
            return None
        response = HttpResponse("/metrics needs `Authorization: Bearer <METRICS_TOKEN>`.\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    try:
        client = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        client = None
    networks = [ipaddress.ip_network(network, strict=False) for network in settings.METRICS_ALLOWED_NETWORKS]
    if client is not None and any(client in network for network in networks):
        return None
    return HttpResponse(
        f"/metrics answers only METRICS_ALLOWED_NETWORKS, or a bearer METRICS_TOKEN; {client} is neither.\n",
        status=403,
    )
