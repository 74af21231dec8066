"""The depth of each Celery queue, read from the broker at scrape time (a queue is a fact of the broker,
not of a process: a Gauge set by one process would go stale when it dies)."""

import logging
from collections.abc import Iterator

from celery import current_app
from kombu.exceptions import ChannelError, KombuError
from prometheus_client.core import GaugeMetricFamily

logger = logging.getLogger(__name__)
BROKER_TIMEOUT_SECONDS = 2.0


def queue_names() -> list[str]:
    routes = current_app.conf.task_routes or {}
    routed = {route["queue"] for route in routes.values() if isinstance(route, dict) and "queue" in route}
    return sorted({current_app.conf.task_default_queue, *routed})


def queue_depth_metrics() -> Iterator[GaugeMetricFamily]:
    family = GaugeMetricFamily(
        "callwright_celery_queue_depth",
        "Messages waiting in each Celery queue, read from the broker.",
        labels=["queue"],
    )
    try:
        with current_app.connection_for_read() as connection:
            connection.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_SECONDS)
            channel = connection.default_channel
            for name in queue_names():
                try:
                    _, depth, _ = channel.queue_declare(queue=name, passive=True)
                except ChannelError:  # never declared, or emptied and gone (Redis): nothing waits
                    depth = 0
                family.add_metric([name], depth)
    except (OSError, KombuError) as error:
        logger.warning("queue depths not read: the broker did not answer (%s)", error)
        return
    yield family


def deepest_queue(_window: object) -> float | None:
    """Messages in the fullest Celery queue now (an alert metric; the window does not apply)."""
    depths = [sample.value for family in queue_depth_metrics() for sample in family.samples]
    return max(depths) if depths else None
