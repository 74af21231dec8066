"""The Celery app: settings from Django's `CELERY_*`, tasks found in every app's `tasks.py`.

Run with `celery -A config worker` and `celery -A config beat` (the DatabaseScheduler of
django-celery-beat; schedules come from `manage.py setup_periodic_tasks`).
"""

import contextlib
import logging
import os
import sqlite3
from logging.config import dictConfig

from celery import Celery
from celery.signals import beat_init, setup_logging, task_prerun, worker_ready
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

# The line each worker and beat logs (at INFO) once it consumes or schedules; `python -m config.demo`
# waits for it before printing the login, so that the login is the last line on the screen.
READY_MARKER = "ready to work"

logger = logging.getLogger(__name__)
app = Celery("callwright")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def configure_logging(**_kwargs: object) -> None:
    """Use Django's LOGGING (with its phone-number masking and LOG_LEVEL) in workers and beat too."""
    from django.conf import settings

    dictConfig(settings.LOGGING)


@worker_ready.connect
def announce_worker_ready(sender: object, **_kwargs: object) -> None:
    logger.info("worker %s is %s", getattr(sender, "hostname", "?"), READY_MARKER)


@task_prerun.connect
def forget_the_last_tasks_queries(task: object = None, **_kwargs: object) -> None:
    """With DEBUG on (the demo's default) Django records every query, and clears the record as each request
    starts; a worker serves no requests, so each task starts it afresh. Without this the dialer, whose tick
    runs every 2 s, grew by about 20 MiB an hour until Django's cap of 9,000 queries. Beat does the same at
    each tick (monitoring/beat.py). A task run inline (tests, eager) is part of its caller and keeps its record."""
    from django.db import reset_queries

    if not getattr(getattr(task, "request", None), "is_eager", False):
        reset_queries()


@beat_init.connect
def announce_beat_ready(**_kwargs: object) -> None:
    logger.info("beat is %s", READY_MARKER)


def prepare_embedded_broker() -> None:
    """Make the embedded SQLite broker ready for the demo's processes; a no-op for any other broker.

    Called once by the process that starts them (`python -m config.demo`), before they start:

    - kombu's SQLAlchemy transport creates its tables and queue rows on first use, and two processes
      doing that at once collide (the loser dies with `UNIQUE constraint failed: kombu_queue.name`):
      they are created here first.
    - WAL lets web, beat and the workers read the queue while one of them writes; the mode is stored
      in the file, so it holds for every later connection.
    - The transport keeps each delivered message as a row marked invisible and finds the next one by
      walking the rows in time order, so every poll (each consumer, every second) grew with the
      messages of the whole demo's life. A partial index over the pending rows, which matches the
      transport's query, makes a poll one index lookup; delivered rows (never read again: an unacked
      message is handed back as a new row) are deleted at each start.
    """
    url = app.conf.broker_url or ""
    prefix = next((p for p in ("sqla+sqlite:///", "sqlalchemy+sqlite:///") if url.startswith(p)), None)
    if prefix is None or url == prefix or ":memory:" in url:
        return
    path = url.removeprefix(prefix)
    with contextlib.closing(sqlite3.connect(path, timeout=30)) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
    queues = {app.conf.task_default_queue} | {route["queue"] for route in (app.conf.task_routes or {}).values()}
    with app.connection_for_write() as broker:
        for name in sorted(queues):
            Queue(name)(broker.default_channel).declare()
    with contextlib.closing(sqlite3.connect(path, timeout=30)) as connection, connection:
        connection.execute(
            "CREATE INDEX IF NOT EXISTS callwright_pending_messages"
            " ON kombu_message (queue_id, timestamp, id) WHERE visible != 0"
        )
        connection.execute("DELETE FROM kombu_message WHERE visible = 0")
