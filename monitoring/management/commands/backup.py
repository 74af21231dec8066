from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from monitoring.backups import BackupError, backup_create


class Command(BaseCommand):
    help = (
        "Back up PostgreSQL (pg_dump, custom format) and MEDIA_ROOT into BACKUP_DIR, copy them to S3-compatible "
        "storage when BACKUP_S3_BUCKET is set, and delete sets older than BACKUP_KEEP_DAYS. Beat runs it daily."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dir", type=Path, default=None, help="where to write (default BACKUP_DIR)")
        parser.add_argument(
            "--keep-days", type=int, default=None, help="delete sets older than this (default BACKUP_KEEP_DAYS)"
        )
        parser.add_argument("--no-media", action="store_true", help="the database only")

    def handle(self, *args: object, **options: object) -> None:
        keep_days = options["keep_days"] if options["keep_days"] is not None else settings.BACKUP_KEEP_DAYS
        if keep_days < 1:
            raise CommandError("--keep-days must be at least 1: the newest set is always kept, older ones by age")
        try:
            backup = backup_create(
                directory=options["dir"] or Path(settings.BACKUP_DIR),
                keep_days=keep_days,
                include_media=not options["no_media"],
            )
        except BackupError as error:
            raise CommandError(str(error)) from error
        for path in backup.files.values():
            self.stdout.write(str(path))
