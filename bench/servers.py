"""The processes a benchmark starts: free loopback ports, core pinning, the project's server, its CPU time."""

import os
import socket
import subprocess
import tempfile
import urllib.parse
from pathlib import Path

from config.server import APP as PROJECT
from config.server import spawn

ROOT = Path(__file__).resolve().parent.parent


def free_port(first: int, last: int, exclude: int = 0) -> int:
    """A loopback port in [first, last] nothing listens on (each benchmark keeps to its own range)."""
    for port in range(first, last + 1):
        if port == exclude:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {first}–{last}")


def pinned(core: int) -> list[str]:
    return ["taskset", "-c", str(core)] if os.path.exists("/usr/bin/taskset") and (os.cpu_count() or 1) > 1 else []


def ensure_database(url: str) -> None:
    import psycopg

    parts = urllib.parse.urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/postgres", parts.query, parts.fragment))
    with psycopg.connect(admin, autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            connection.execute(f'CREATE DATABASE "{name}"')


def start_server(reserved: socket.socket, env: dict[str, str], app: str = PROJECT) -> subprocess.Popen:
    """`app` (an application factory; the project unless told) served as in production — `config.server`, uvicorn
    with uvloop and httptools, one worker — on the `reserved` socket (`config.server.reserve`: bound before the
    server starts, so no other process takes the port), pinned to core 0; returns once it listens."""
    # Not a pipe: an unread pipe that fills up blocks the server. The file lives as long as the server.
    log = tempfile.TemporaryFile()  # noqa: SIM115
    try:
        return spawn(reserved, env=env, app=app, prefix=pinned(0), stderr=log)
    except RuntimeError as error:
        log.seek(0)
        raise RuntimeError(f"{app} did not start: {error}: {log.read().decode()}") from None


def cpu_seconds(pid: int) -> float:
    """User + system CPU the process has used: robust to other load on the machine, unlike req/s."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(server: subprocess.Popen, run) -> tuple[dict, float]:
    """Run a load; return its result and the server's CPU milliseconds per request."""
    before = cpu_seconds(server.pid)
    result = run()
    return result, (cpu_seconds(server.pid) - before) * 1000 / max(1, result["sent"])


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    server.wait(timeout=30)
