"""The processes a benchmark starts: free loopback ports, core pinning, a daphne server, its CPU time."""

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

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


SERVER_COMMANDS = {
    "daphne": ["-m", "daphne", "-v", "0", "-b", "127.0.0.1", "-p", "{port}"],
    # A peer only (local requirements): uvicorn with uvloop, httptools and websockets.
    "uvicorn": ["-m", "uvicorn", "--host", "127.0.0.1", "--port", "{port}", "--loop", "uvloop", "--http", "httptools",
                "--ws", "websockets", "--no-access-log", "--log-level", "warning"],
}  # fmt: skip


def start_server(app: str, port: int, env: dict[str, str], kind: str = "daphne") -> subprocess.Popen:
    """`app` served by daphne (the project's server) or uvicorn, pinned to core 0; returns once it listens."""
    # Not a pipe: an unread pipe that fills up blocks the server. The file lives as long as the server.
    log = tempfile.TemporaryFile()  # noqa: SIM115
    arguments = [argument.format(port=port) for argument in SERVER_COMMANDS[kind]]
    server = subprocess.Popen(
        [*pinned(0), sys.executable, *arguments, app], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log
    )
    try:
        wait_for_port(port, server, seconds=30)
    except RuntimeError:
        log.seek(0)
        raise RuntimeError(f"{kind} serving {app} did not start: {log.read().decode()}") from None
    return server


def wait_for_port(port: int, process: subprocess.Popen, *, seconds: float) -> None:
    """Return once something listens on loopback `port`; RuntimeError if `process` exits or time runs out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        if process.poll() is not None:
            raise RuntimeError(f"the process meant to listen on {port} exited with {process.returncode}")
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port} after {seconds} s")


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
    server.wait(timeout=15)
