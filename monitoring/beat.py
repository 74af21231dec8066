"""Beat's scheduler, which says it is alive: django-celery-beat's DatabaseScheduler plus a record of each tick.

Beat serves no HTTP and sends nothing a probe could ask, so its liveness is the time of its last tick: the
scheduler loop runs one at least every `max_interval` (5 s for the database scheduler) and on every due task.
Each tick sets `callwright_beat_last_tick_timestamp_seconds` (for Prometheus' "beat not ticking" alert) and
touches `CELERY_BEAT_TICK_FILE` when that is set (docker's liveness probe reads its age,
`docker/liveness beat`). Both cost a system call or two a tick.

Each tick also clears Django's query log. With DEBUG on (the demo's default) Django records every query, and
clears the record at the start of each request; beat serves no requests, so without this its record grew by
a query a tick (about 3 MiB an hour in the demo) until Django's cap of 9,000 entries.
"""

import os
import time
from pathlib import Path

from django.db import reset_queries
from django_celery_beat.schedulers import DatabaseScheduler

from monitoring.metrics import BEAT_LAST_TICK


class TickRecordingScheduler(DatabaseScheduler):
    def tick(self, *args: object, **kwargs: object) -> float:
        record_beat_tick()
        reset_queries()
        return super().tick(*args, **kwargs)


def record_beat_tick(*, now: float | None = None) -> None:
    now = time.time() if now is None else now
    BEAT_LAST_TICK.set(now)
    if path := os.environ.get("CELERY_BEAT_TICK_FILE"):
        Path(path).touch()
