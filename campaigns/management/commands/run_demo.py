"""`manage.py run_demo` (the end of `make run`): the Procfile's processes, kept up, and the login shown last.

Checks first that PORT is free (one clear line if not), then runs every Procfile process under
`monitoring.supervisor` with `PORT` in their environment — the web line binds it, and the settings'
PUBLIC_BASE_URL default follows it in every process. Once the web process answers on the port and
every Celery process has logged that it is ready, the admin login is printed, so it is the last thing
on the screen.
"""

import errno
import os
import socket
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from campaigns.management.commands.demo_login import login_message
from config.celery import READY_MARKER, prepare_embedded_broker
from monitoring.supervisor import Supervisor, read_procfile

HOST = "127.0.0.1"


def port_is_free(host: str, port: int) -> bool:
    """True if a server could bind `host:port` now (with SO_REUSEADDR, as servers do)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def port_answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class Command(BaseCommand):
    help = "Run the Procfile's processes (web, worker, dialer, beat), restarting any that dies; Ctrl-C stops all."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--procfile", default=str(Path(settings.BASE_DIR) / "Procfile"))
        parser.add_argument("--grace", type=float, default=10.0, help="seconds each process has to stop after SIGTERM")

    def handle(self, *args: object, **options: object) -> None:
        port = settings.PORT
        if not port_is_free(HOST, port):
            raise CommandError(
                f"Port {port} on {HOST} is already in use by another program. Choose another port: "
                f"`make run PORT={port + 1}` (or set PORT in the environment)."
            )
        login = login_message()  # fails now, with its reason, rather than after everything started
        prepare_embedded_broker()
        try:
            specs = read_procfile(Path(str(options["procfile"])))
        except (OSError, ValueError) as error:
            raise CommandError(str(error)) from error
        supervisor = Supervisor(
            specs,
            env={**os.environ, "PORT": str(port), "PYTHONUNBUFFERED": "1"},
            cwd=Path(settings.BASE_DIR),
            output=self.stdout,
            grace_seconds=float(options["grace"]),  # type: ignore[arg-type]
            ready_markers={spec.name: READY_MARKER for spec in specs if spec.command.startswith("celery ")},
            ready_check=lambda: port_answers(HOST, port),
            on_ready=lambda: self.stdout.write(self.style.SUCCESS(login)),
        )
        sys.exit(supervisor.run())
