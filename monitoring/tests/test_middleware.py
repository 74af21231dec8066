"""The request-metrics middleware keeps an ASGI request to a couple of thread hops and still counts it."""

import asgiref.sync
import pytest
from django.test import AsyncClient

pytestmark = pytest.mark.django_db(transaction=True)


def hops_for_one_request(monkeypatch, path: str) -> tuple[int, int]:
    """(sync_to_async hops, status) for one GET served through Django's async handler, as under uvicorn."""
    hops = 0
    original = asgiref.sync.SyncToAsync.__call__

    async def counting(self, *args, **kwargs):
        nonlocal hops
        hops += 1
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(asgiref.sync.SyncToAsync, "__call__", counting)
    response = asgiref.sync.async_to_sync(AsyncClient().get)(path)
    return hops, response.status_code


def test_an_asgi_request_runs_the_middleware_chain_in_one_thread_hop(monkeypatch):
    # Measured: 6 with the synchronous chain (the chain, the view inside Django's async core, the
    # request signals and the test client's own), 18 with django-prometheus' async-capable middleware,
    # whose every MiddlewareMixin hook then costs a hop of its own.
    hops, status = hops_for_one_request(monkeypatch, "/metrics")
    assert status == 200
    assert hops <= 8, f"{hops} sync_to_async hops for one request"


def test_request_metrics_are_still_recorded_under_asgi(monkeypatch):
    hops_for_one_request(monkeypatch, "/metrics")
    text = asgiref.sync.async_to_sync(AsyncClient().get)("/metrics").content.decode()
    line = next(line for line in text.splitlines() if line.startswith("django_http_requests_total_by_transport_total"))
    assert float(line.rsplit(" ", 1)[1]) >= 1
