"""`manage.py demo_login` (or `make login`): the demo's admin URL, user and password, again."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from campaigns.management.commands.load_demo import ADMIN_USERNAME, admin_password_file


def login_message() -> str:
    """The lines an operator needs to log in; raises CommandError if load_demo has not set a password."""
    password_file: Path = admin_password_file()
    if not password_file.exists():
        raise CommandError(
            f"No demo password is stored ({password_file} is missing): run `python manage.py load_demo`, or "
            f"set one with `python manage.py changepassword {ADMIN_USERNAME}`."
        )
    origin = f"http://127.0.0.1:{settings.PORT}"
    return (
        "Callwright demo is ready.\n"
        f"  Admin:    {origin}/admin/\n"
        f"  Login:    {ADMIN_USERNAME} / {password_file.read_text().strip()}\n"
        f"  API docs: {origin}/api/docs/\n"
        "  Ctrl-C stops everything; `make login` shows this again."
    )


class Command(BaseCommand):
    help = "Show the demo's admin login (the password load_demo generated and kept in var/)."

    def handle(self, *args: object, **options: object) -> None:
        self.stdout.write(self.style.SUCCESS(login_message()))
