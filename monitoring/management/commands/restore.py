from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from monitoring.backups import BackupError, backup_restore, database_from_url, find_backup


class Command(BaseCommand):
    help = (
        "Restore a backup (its .dump path, its stamp, or `latest` in BACKUP_DIR) into an EMPTY database — the "
        "configured one, or --database-url — and its media into MEDIA_ROOT. Refuses a database that has tables."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("backup", help="a callwright-<stamp>.dump path, a stamp (20261207T031500Z) or latest")
        parser.add_argument(
            "--dir", type=Path, default=None, help="where to look for a stamp or latest (default BACKUP_DIR)"
        )
        parser.add_argument("--database-url", default="", help="restore into this database instead of DATABASE_URL")
        parser.add_argument("--no-media", action="store_true", help="the database only")

    def handle(self, *args: object, **options: object) -> None:
        database = (
            database_from_url(options["database_url"]) if options["database_url"] else settings.DATABASES["default"]
        )
        try:
            backup = find_backup(options["backup"], options["dir"] or Path(settings.BACKUP_DIR))
            backup_restore(backup=backup, database=database, include_media=not options["no_media"])
        except BackupError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"restored {backup.stamp}; run `manage.py migrate` if this code is newer than the backup")
