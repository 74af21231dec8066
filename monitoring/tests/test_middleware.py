"""The request-metrics middleware keeps an ASGI request's middleware chain synchronous, and still counts it."""

import logging

import asgiref.sync
import pytest
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.test import AsyncClient, override_settings

pytestmark = pytest.mark.django_db(transaction=True)


def adaptations_under_asgi(middleware: list[str]) -> list[str]:
    """What Django says (logger `django.request`, with DEBUG on) it adapts while it builds the ASGI chain."""
    said: list[str] = []

    class Remember(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            said.append(record.getMessage())

    logger, handler = logging.getLogger("django.request"), Remember(level=logging.DEBUG)
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        with override_settings(DEBUG=True, MIDDLEWARE=middleware):
            ASGIHandler()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return [line for line in said if "adapted" in line]


def test_an_asgi_request_crosses_from_async_to_sync_once_below_the_whole_chain():
    # Every hook of an async-capable MiddlewareMixin, and every switch between async and sync middleware,
    # is a thread hop per request; a fully synchronous chain is adapted once, at its innermost end.
    assert adaptations_under_asgi(settings.MIDDLEWARE) == [
        "Asynchronous handler adapted for middleware monitoring.middleware.PrometheusAfterMiddleware."
    ]


def test_django_prometheus_own_middleware_would_split_the_chain():
    """The reason for the subclasses: with django-prometheus' async-capable classes the chain switches mode."""
    stock = [
        "django_prometheus.middleware.PrometheusBeforeMiddleware",
        *settings.MIDDLEWARE[1:-1],
        "django_prometheus.middleware.PrometheusAfterMiddleware",
    ]
    assert adaptations_under_asgi(stock) != adaptations_under_asgi(settings.MIDDLEWARE)


def test_request_metrics_are_still_recorded_under_asgi():
    asgiref.sync.async_to_sync(AsyncClient().get)("/metrics")
    text = asgiref.sync.async_to_sync(AsyncClient().get)("/metrics").content.decode()
    line = next(line for line in text.splitlines() if line.startswith("django_http_requests_total_by_transport_total"))
    assert float(line.rsplit(" ", 1)[1]) >= 1
