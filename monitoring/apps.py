from django.apps import AppConfig
from django.conf import settings
from django.utils.translation import gettext_lazy as _


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = _("Monitoring")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from monitoring import (
            celery_metrics,  # noqa: F401 - connects the Celery task metrics to Celery's signals
            tasks,  # noqa: F401 - registers the tasks enqueued by name
        )
        from monitoring.health import worker_heartbeat_age
        from monitoring.metrics import register_alert_metric, register_scrape_collector
        from monitoring.queues import deepest_queue, queue_depth_metrics

        register_scrape_collector(queue_depth_metrics)
        if settings.TRACING_ENABLED:
            from monitoring.tracing import tracing_configure

            tracing_configure()
        register_alert_metric(
            "worker_heartbeat_age_seconds", _("Seconds since a worker's last heartbeat"), worker_heartbeat_age
        )
        register_alert_metric("queue_depth", _("Messages waiting in the fullest Celery queue"), deepest_queue)
