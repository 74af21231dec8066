from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from campaigns.periodic_tasks import PERIODIC_TASKS
from config import celery_app


def test_the_celery_app_is_configured_for_idempotent_late_acked_tasks():
    conf = celery_app.conf
    assert conf.task_acks_late is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_time_limit > conf.task_soft_time_limit > 0
    assert conf.beat_scheduler == "monitoring.beat:TickRecordingScheduler"  # DatabaseScheduler + tick record


def test_every_scheduled_task_is_registered_with_celery():
    celery_app.loader.import_default_modules()
    for spec in PERIODIC_TASKS:
        assert spec.task in celery_app.tasks, spec.task


@pytest.mark.django_db
def test_setup_periodic_tasks_run_twice_creates_each_schedule_once():
    call_command("setup_periodic_tasks", verbosity=0)
    call_command("setup_periodic_tasks", verbosity=0)
    assert PeriodicTask.objects.filter(name__in=[s.name for s in PERIODIC_TASKS]).count() == len(PERIODIC_TASKS)
    assert IntervalSchedule.objects.count() == len({s.every_seconds for s in PERIODIC_TASKS})


@pytest.mark.django_db
def test_setup_periodic_tasks_repairs_an_edited_schedule_and_disables_a_retired_one():
    call_command("setup_periodic_tasks", verbosity=0)
    spec = PERIODIC_TASKS[0]
    PeriodicTask.objects.filter(name=spec.name).update(enabled=False, task="wrong.task")
    retired = PeriodicTask.objects.create(
        name="Old job",
        task="monitoring.gone",
        interval=IntervalSchedule.objects.first(),
        description="No longer used. [managed by setup_periodic_tasks]",
    )
    call_command("setup_periodic_tasks", verbosity=0)
    repaired = PeriodicTask.objects.get(name=spec.name)
    assert repaired.enabled
    assert repaired.task == spec.task
    retired.refresh_from_db()
    assert not retired.enabled


@pytest.mark.django_db
def test_every_periodic_task_expires_before_its_next_run_is_due():
    """While a worker is down, beat's runs expire instead of piling up to run all at once on its restart."""
    from django_celery_beat.schedulers import ModelEntry

    call_command("setup_periodic_tasks", verbosity=0)
    for spec in PERIODIC_TASKS:
        stored = PeriodicTask.objects.get(name=spec.name)
        entry = ModelEntry(stored, app=celery_app)  # what beat sends: its options carry the expiry
        assert 0 < entry.options["expires"] < spec.every_seconds, spec.name


class TaskLike:
    """What task_prerun is sent with: a task whose request says whether it runs inline."""

    def __init__(self, *, is_eager: bool) -> None:
        self.request = SimpleNamespace(is_eager=is_eager)


@pytest.mark.django_db
def test_a_worker_starts_each_task_with_djangos_query_log_empty_but_an_inline_task_keeps_its_callers(settings):
    """DEBUG on (the demo) makes Django record every query; a worker has no requests to clear the record,
    so each task does (the demo's dialer grew ~20 MiB an hour). A task run inline is part of its caller."""
    from celery.signals import task_prerun
    from django.contrib.auth.models import Group
    from django.db import connection

    settings.DEBUG = True
    Group.objects.count()
    assert len(connection.queries_log) >= 1

    inline = TaskLike(is_eager=True)
    task_prerun.send(sender=inline, task_id="1", task=inline, args=(), kwargs={})
    assert len(connection.queries_log) >= 1

    in_a_worker = TaskLike(is_eager=False)
    task_prerun.send(sender=in_a_worker, task_id="2", task=in_a_worker, args=(), kwargs={})
    assert len(connection.queries_log) == 0
