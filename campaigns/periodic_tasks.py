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

    @property
    def expire_seconds(self) -> int:
        """A run not started within this is dropped, as the next one is on its way: while its worker is down,
        beat's ticks do not pile up and all run at once on restart. Shorter than the interval (whole seconds,
        as django-celery-beat stores it; an interval of 1 s gets 1)."""
        return max(1, self.every_seconds - 1)


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
        every_seconds=15,
        description="Settles targets whose call ended but whose settlement was lost (a failed publish, a crash).",
    ),
    PeriodicTaskSpec(
        name="Resume stalled analyses",
        task="campaigns.resume_stalled_analyses",
        every_seconds=5 * 60,
        description="Queues again the post-call analysis of calls whose analysis was lost or abandoned mid-run.",
    ),
    PeriodicTaskSpec(
        name="Reap stale calls",
        task="calls.reap_stale_calls",
        every_seconds=settings.CALLS_REAPER_INTERVAL_SECONDS,
        description="Ends calls the carrier no longer carries (asking it) and cancels calls never handed to it.",
    ),
    PeriodicTaskSpec(
        name="Delete abandoned contact uploads",
        task="contacts.delete_abandoned_uploads",
        every_seconds=settings.CONTACT_IMPORT_UPLOAD_SWEEP_SECONDS,
        description=(
            "Deletes uploaded contact files whose preview was not confirmed within "
            "CONTACT_IMPORT_UPLOAD_MAX_AGE_MINUTES (a confirmed one is deleted when its import ends)."
        ),
    ),
    PeriodicTaskSpec(
        name="Evaluate alert rules",
        task="monitoring.evaluate_alert_rules",
        every_seconds=60,
        description="Fires or resolves the admin's alert rules and notifies their channels.",
    ),
    *(
        [
            PeriodicTaskSpec(
                name="Back up the database",
                task="monitoring.back_up_database",
                every_seconds=settings.BACKUP_INTERVAL_HOURS * 60 * 60,
                description="pg_dump and the media files into BACKUP_DIR (and S3 if set); old sets deleted.",
            )
        ]
        if settings.BACKUP_INTERVAL_HOURS > 0
        else []
    ),
    PeriodicTaskSpec(
        name="Forget old idempotency keys",
        task="campaigns.purge_idempotency_keys",
        every_seconds=60 * 60,
        description="Deletes API Idempotency-Key records older than IDEMPOTENCY_KEY_TTL_HOURS.",
    ),
    PeriodicTaskSpec(
        name="Purge expired call data",
        task="calls.purge_expired",
        every_seconds=60 * 60,
        description="Deletes recordings, transcripts and events of calls older than RETENTION_DAYS (0: keeps all).",
    ),
)
