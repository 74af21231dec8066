"""`python -m config.demo` (the end of `make run`): the Procfile's processes, kept up, and the login shown last.

A launcher beside `config.server`, above every app (it wires campaigns' demo login, monitoring's supervisor
and the Celery app's embedded broker), so it lives in config, not in an app that may not import the others.

Checks first that PORT is free (one clear line if not), then runs every Procfile process under
`monitoring.supervisor` with `PORT` in their environment — the web line binds it, and the settings'
PUBLIC_BASE_URL default follows it in every process. Once the web process answers on the port and
every Celery process has logged that it is ready, the admin login is printed, so it is the last thing
on the screen.
"""

import argparse
import errno
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

import django

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


class DemoError(Exception):
    """The demo cannot start; the message says why and what to do."""


def run(argv: Sequence[str] | None = None) -> int:
    """Run the demo's processes until Ctrl-C; the supervisor's exit status. Raises DemoError before starting."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    django.setup()
    from django.conf import settings
    from django.core.management.base import CommandError
    from django.core.management.color import color_style

    from campaigns.management.commands.demo_login import login_message
    from config.celery import READY_MARKER, prepare_embedded_broker
    from monitoring.supervisor import Supervisor, read_procfile

    parser = argparse.ArgumentParser(prog="python -m config.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--procfile", default=str(Path(settings.BASE_DIR) / "Procfile"))
    parser.add_argument("--grace", type=float, default=10.0, help="seconds each process has to stop after SIGTERM")
    options = parser.parse_args(argv)

    port = settings.PORT
    if not port_is_free(HOST, port):
        raise DemoError(
            f"Port {port} on {HOST} is already in use by another program. Choose another port: "
            f"`make run PORT={port + 1}` (or set PORT in the environment)."
        )
    try:
        login = login_message()  # fails now, with its reason, rather than after everything started
    except CommandError as error:
        raise DemoError(str(error)) from error
    prepare_embedded_broker()
    try:
        specs = read_procfile(Path(options.procfile))
    except (OSError, ValueError) as error:
        raise DemoError(str(error)) from error
    supervisor = Supervisor(
        specs,
        env={**os.environ, "PORT": str(port), "PYTHONUNBUFFERED": "1"},
        cwd=Path(settings.BASE_DIR),
        output=sys.stdout,
        grace_seconds=options.grace,
        ready_markers={spec.name: READY_MARKER for spec in specs if spec.command.startswith("celery ")},
        ready_check=lambda: port_answers(HOST, port),
        on_ready=lambda: print(color_style().SUCCESS(login), flush=True),
    )
    return supervisor.run()


def main() -> None:
    try:
        sys.exit(run())
    except DemoError as error:
        sys.exit(f"CommandError: {error}")


if __name__ == "__main__":
    main()
