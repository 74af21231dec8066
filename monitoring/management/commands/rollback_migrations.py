import json
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from monitoring.backups import BackupError, find_backup


class Command(BaseCommand):
    help = (
        "Take the schema back to the migrations a backup recorded (its manifest), unapplying what came after: "
        "run it with the NEW code, which knows how to reverse its migrations, before starting the previous image."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("backup", help="the backup taken before the upgrade: a stamp, a .dump path or latest")
        parser.add_argument("--dir", type=Path, default=None, help="where to look (default BACKUP_DIR)")
        parser.add_argument("--dry-run", action="store_true", help="say what would be unapplied, change nothing")

    def handle(self, *args: object, **options: object) -> None:
        try:
            backup = find_backup(options["backup"], options["dir"] or Path(settings.BACKUP_DIR))
        except BackupError as error:
            raise CommandError(str(error)) from error
        recorded: dict[str, str] = json.loads(backup.manifest.read_text()).get("migrations", {})
        if not recorded:
            raise CommandError(f"backup {backup.stamp} recorded no migration state (made by an older version)")
        loader = MigrationLoader(connection)
        applied_apps = sorted({app for app, _ in loader.applied_migrations})
        moves = [(app, recorded.get(app, "zero")) for app in applied_apps]
        for app, target in moves:
            current = max(name for label, name in loader.applied_migrations if label == app)
            if target != "zero" and (app, target) not in loader.applied_migrations:
                raise CommandError(
                    f"{app} {target} (recorded in the backup) is not applied here: nothing to roll back to"
                )
            if current == target:
                continue
            self.stdout.write(f"{app}: back to {target}")
            if not options["dry_run"]:
                call_command("migrate", app, target, verbosity=0)
