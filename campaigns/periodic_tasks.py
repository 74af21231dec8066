"""The periodic tasks beat runs, in one table; `manage.py setup_periodic_tasks` writes it to the database.

It lives with the dialer, whose tick is most of it. Tasks are named by their registered name, so the
table imports no app, and lists the lower apps' sweeps (calls' reaper, monitoring's heartbeat) too.
"""

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class PeriodicTaskSpec:
    name: str
    task: str
    every_seconds: int
    description: str


PERIODIC_TASKS: tuple[PeriodicTaskSpec, ...] = (
    PeriodicTaskSpec(
        name="Dialer tick",
        task="campaigns.dispatch_due",
        every_seconds=settings.DIALER_TICK_SECONDS,
        description="Starts scheduled campaigns, dials what running ones may dial now, completes finished ones.",
    ),
    PeriodicTaskSpec(
        name="Worker heartbeat",
        task="monitoring.record_worker_heartbeat",
        every_seconds=30,
        description="Shows on /health/ that beat and a worker are alive.",
    ),
    PeriodicTaskSpec(
        name="Settle stragglers",
        task="campaigns.settle_stragglers",
        every_seconds=60,
        description="Settles targets whose call ended but whose settlement was lost (a failed publish, a crash).",
    ),
    PeriodicTaskSpec(
        name="Reap stale calls",
        task="calls.reap_stale_calls",
        every_seconds=60,
        description="Closes calls a lost callback left open, asking the carrier for their real status.",
    ),
    PeriodicTaskSpec(
        name="Purge expired call data",
        task="calls.purge_expired",
        every_seconds=60 * 60,
        description="Deletes recordings, transcripts and events of calls older than RETENTION_DAYS (0: keeps all).",
    ),
)
