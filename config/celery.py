"""The Celery app: settings from Django's `CELERY_*`, tasks found in every app's `tasks.py`.

Run with `celery -A config worker` and `celery -A config beat` (the DatabaseScheduler of
django-celery-beat; schedules come from `manage.py setup_periodic_tasks`).
"""

import os
from logging.config import dictConfig
from pathlib import Path

from celery import Celery
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("callwright")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def configure_logging(**_kwargs: object) -> None:
    """Use Django's LOGGING (with its phone-number masking) in workers and beat too."""
    from django.conf import settings

    dictConfig(settings.LOGGING)


def ensure_filesystem_broker_folders() -> None:
    """Create the folders of kombu's file-system transport; it expects them to exist."""
    options = app.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "control_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)


app.on_after_configure.connect(lambda **_kwargs: ensure_filesystem_broker_folders(), weak=False)
