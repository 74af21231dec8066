import os

from django_celery_beat.schedulers import DatabaseScheduler
from prometheus_client import REGISTRY

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
