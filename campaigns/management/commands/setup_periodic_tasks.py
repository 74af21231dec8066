from django.core.management.base import BaseCommand
from django.db import transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from campaigns.periodic_tasks import PERIODIC_TASKS

MANAGED_MARKER = "[managed by setup_periodic_tasks]"


class Command(BaseCommand):
    help = "Create or update beat's periodic tasks from campaigns/periodic_tasks.py. Safe to run again."

    @transaction.atomic
    def handle(self, *args: object, **options: object) -> None:
        wanted = set()
        for spec in PERIODIC_TASKS:
            interval, _ = IntervalSchedule.objects.get_or_create(
                every=spec.every_seconds, period=IntervalSchedule.SECONDS
            )
            _, created = PeriodicTask.objects.update_or_create(
                name=spec.name,
                defaults={
                    "task": spec.task,
                    "interval": interval,
                    "enabled": True,
                    "expire_seconds": spec.expire_seconds,
                    "description": f"{spec.description} {MANAGED_MARKER}",
                },
            )
            wanted.add(spec.name)
            self.stdout.write(
                f"{'created' if created else 'up to date'}: {spec.name} every {spec.every_seconds}s,"
                f" expires after {spec.expire_seconds}s"
            )
        # A task this command created but no longer lists is disabled, not deleted: its history stays.
        retired = PeriodicTask.objects.filter(description__endswith=MANAGED_MARKER, enabled=True).exclude(
            name__in=wanted
        )
        for task in retired:
            task.enabled = False
            task.save(update_fields=["enabled"])  # save() tells beat the schedule changed
            self.stdout.write(f"disabled: {task.name}")
