import os

import pytest
from django.db import connection
from django_celery_beat.schedulers import DatabaseScheduler
from prometheus_client import REGISTRY

from config.celery import app as celery_app
from monitoring.beat import TickRecordingScheduler, record_beat_tick


def test_the_scheduler_is_django_celery_beats_database_scheduler():
    assert issubclass(TickRecordingScheduler, DatabaseScheduler)


def test_a_tick_sets_the_last_tick_metric_and_touches_the_liveness_file(tmp_path, monkeypatch):
    tick_file = tmp_path / "beat-tick"
    monkeypatch.setenv("CELERY_BEAT_TICK_FILE", str(tick_file))
    tick_file.touch()
    os.utime(tick_file, (0, 0))  # a stale file, as a hung beat would leave it
    record_beat_tick(now=1_700_000_000.0)
    assert REGISTRY.get_sample_value("callwright_beat_last_tick_timestamp_seconds") == 1_700_000_000.0
    assert tick_file.stat().st_mtime > 0


@pytest.mark.django_db(transaction=True)  # the scheduler closes stale connections, as a long-running beat must
def test_ticks_do_not_grow_djangos_query_log_when_debug_is_on(settings):
    """With DEBUG on Django keeps every query until the next request starts; beat has no requests, so its
    ticks clear the log (the demo runs DEBUG on: the log grew a query a tick)."""
    settings.DEBUG = True
    scheduler = TickRecordingScheduler(app=celery_app, lazy=False)
    scheduler.tick()
    after_one = len(connection.queries_log)
    for _ in range(50):
        scheduler.tick()
    assert 0 < len(connection.queries_log) <= after_one
