from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from monitoring import celery_metrics  # noqa: F401 - connects the Celery task metrics to Celery's signals
        from monitoring.metrics import register_scrape_collector
        from monitoring.queues import queue_depth_metrics

        register_scrape_collector(queue_depth_metrics)
