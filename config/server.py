"""How Callwright is served: uvicorn (uvloop, httptools, websockets) running `config.asgi`, and nothing else.

`python -m config.server` is the one command that serves the project: `make run` (Procfile), the Docker
image (docker/start-web), the end-to-end tests and every benchmark start it, so they all run the same
server with the same options. Only where it listens and how many worker processes it runs are chosen
by the caller (`--host`, `--port` or `--fd`, `--workers`/`WEB_CONCURRENCY`). Tests and benchmarks start it
with `reserve` and `spawn`: the socket is bound before the server starts, so no other process can take
the port while it loads.

The options, and why:
- uvloop and httptools: the event loop and HTTP parser in C. A call's media stream is 50 messages a
  second in and as many out, so a server's per-message cost sets how many calls a core carries.
- `websockets-sansio`: the implementation uvicorn's own "auto" picks; its older `websockets` one is deprecated.
- No permessage-deflate: a media frame is base64 μ-law, which barely compresses; deflating 100 frames a
  second per call would spend the core on nothing (Twilio does not ask for it; some clients do).
- Lifespan on: at shutdown, after uvicorn has closed every media stream (code 1012), `calls.lifespan` waits for
  the calls' records still being written, so a stopping server loses none.
- No access log unless `--access-log`: one line per status callback, hundreds a second; the proxy in
  front logs requests, and django-prometheus counts them.
- Proxy headers: uvicorn takes the client address and scheme from `X-Forwarded-For`/`-Proto` only
  when the peer is in `FORWARDED_ALLOW_IPS` (loopback by default) — set it to the TLS proxy's address.
- Workers: uvicorn's supervisor runs `--workers` processes on one socket, replaces one that dies or stops
  answering its health check, and on SIGHUP replaces them one at a time, each new one ready before the
  old one stops. A WebSocket stays in the process that accepted it for the whole call.
- Shutdown (SIGTERM or SIGINT): each worker stops accepting, closes its WebSockets with 1012 (calls in
  progress end) and gives requests in flight up to GRACEFUL_SHUTDOWN_SECONDS to finish.

The interpreter settings each worker applies once the app is loaded are in `tune_interpreter`.
"""

import argparse
import gc
import os
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent

APP = "config.server:served_application"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = int(os.environ.get("PORT", "8000"))  # the PORT setting (config/settings/base.py) reads the same
GRACEFUL_SHUTDOWN_SECONDS = 20


def tune_interpreter() -> None:
    """The interpreter settings of a serving process; `served_application` applies them once the app is loaded.

    - `gc.freeze()`: everything imported at start-up (Django, the voice pipeline, the adapters: over a
      hundred thousand objects) lives as long as the process. Frozen, it is never walked again; otherwise
      every full collection walks all of it, a stop of the event loop of several frames' length during
      which no call's audio leaves. The one setting measured to matter whatever the server is.
    - `gc.set_threshold(7000, 10, 10)`: a young collection promotes what is alive at that moment — the
      requests and frames in flight — and the promotions set off older-generation collections, each a
      stop of the loop. The server makes almost no cyclic garbage, so collecting ten times less often
      costs little memory, and a young collection of ~7,000 objects still takes well under a millisecond.
    - `sys.setswitchinterval(0.001)`: the event loop shares the GIL with the threads that run Django's
      synchronous work (webhook views, `database_sync_to_async`). While one of them runs Python, a frame
      that falls due waits for the GIL up to this interval: 5 ms by default, a quarter of a frame.

    Figures are in BENCHMARKS.md. Only a serving process should call this: it changes the whole interpreter
    (tests importing `config.asgi` keep Python's defaults).
    """
    gc.collect()  # what start-up left as garbage goes now, not frozen with the rest
    gc.freeze()
    gc.set_threshold(7000, 10, 10)
    sys.setswitchinterval(0.001)


def served_application() -> Any:
    """The ASGI application uvicorn serves (its `--factory`): `config.asgi.application`, in a tuned interpreter.

    uvicorn calls this once in each worker process, after the worker has started and before it accepts
    a connection, so `tune_interpreter` runs after the whole app has been imported.
    """
    from config.asgi import application

    tune_interpreter()
    return application


def uvicorn_options(*, host: str, port: int, fd: int | None, workers: int, access_log: bool) -> dict[str, Any]:
    """uvicorn.run's keyword arguments for serving the project (see the module docstring for each one)."""
    return {
        "host": host,
        "port": port,
        "fd": fd,
        "workers": workers,
        "factory": True,
        "loop": "uvloop",
        "http": "httptools",
        "ws": "websockets-sansio",
        "ws_per_message_deflate": False,
        "lifespan": "on",
        "access_log": access_log,
        "proxy_headers": True,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
    }


def command(*, fd: int, workers: int = 1, app: str = APP) -> list[str]:
    """The command line that serves `app` (the project unless told) on the inherited socket `fd`."""
    return [sys.executable, "-m", "config.server", f"--fd={fd}", f"--workers={workers}", f"--app={app}"]


def reserve() -> socket.socket:
    """A loopback TCP socket on a port the system picks, bound but not listening: the port is taken, yet
    connections to it are refused until a server started on it by `spawn` listens."""
    reserved = socket.socket()
    reserved.bind(("127.0.0.1", 0))
    return reserved


def spawn(
    reserved: socket.socket,
    *,
    env: dict[str, str],
    app: str = APP,
    prefix: Sequence[str] = (),
    stderr: IO[bytes] | None = None,
    seconds: float = 60,
) -> subprocess.Popen:
    """Serve `app` with one worker in a child process on `reserved` (closed here once handed over).

    `prefix` goes before the command (`taskset -c 0`, say). Returns once the server listens; RuntimeError
    if it exits first or does not listen within `seconds`. Nothing else can have bound the port meanwhile.
    """
    fd = reserved.fileno()
    port = reserved.getsockname()[1]
    try:
        process = subprocess.Popen(  # noqa: S603 - this interpreter running this module
            [*prefix, *command(fd=fd, app=app)],
            cwd=ROOT, env=env, pass_fds=(fd,), stdout=subprocess.DEVNULL, stderr=stderr,
        )  # fmt: skip
    finally:
        reserved.close()
    try:
        wait_until_listening(port, process, seconds=seconds)
    except RuntimeError:
        process.kill()
        process.wait(timeout=30)
        raise
    return process


def wait_until_listening(port: int, process: subprocess.Popen, *, seconds: float) -> None:
    """Return once something accepts connections on loopback `port`.

    RuntimeError if `process` exits first or nothing listens within `seconds`. uvicorn listens only
    after the app has loaded, so a single-worker server is ready when this returns.
    """
    deadline = time.monotonic() + seconds
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        if process.poll() is not None:
            raise RuntimeError(f"the server meant to listen on {port} exited with code {process.returncode}")
        if time.monotonic() >= deadline:
            raise RuntimeError(f"nothing listens on port {port} after {seconds} s")
        time.sleep(0.05)


def send_small_writes_at_once(fd: int) -> None:
    """Set TCP_NODELAY on the inherited listening socket `fd` (if it is a TCP one): the connections it accepts
    take it from it (Linux copies it to every accepted socket).

    uvicorn serves an inherited socket as a Unix one (`socket.fromfd(fd, AF_UNIX, ...)`), so uvloop does not set
    TCP_NODELAY on the connections it accepts, as it does on those of `--host`/`--port`; Nagle's algorithm then
    holds a small write (a 20 ms media frame) while the previous one is unacknowledged, until the caller's next
    packet carries the acknowledgement: after each mark, the next three agent frames reached the callers ~18 ms
    late (bench_vad_capacity, at one call as at fifty)."""
    listener = socket.socket(fileno=fd)
    try:
        if listener.family in (socket.AF_INET, socket.AF_INET6) and listener.type == socket.SOCK_STREAM:
            listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    finally:
        listener.detach()  # the descriptor stays open, for uvicorn


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m config.server", description="Serve Callwright on uvicorn.")
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port to listen on (default {DEFAULT_PORT})")
    parser.add_argument("--fd", type=int, help="serve on this inherited, bound socket instead of --host/--port")
    parser.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("WEB_CONCURRENCY", "1")),
        help="worker processes (default $WEB_CONCURRENCY, else 1)",
    )
    parser.add_argument("--access-log", action="store_true", help="log one line per request")
    parser.add_argument(
        "--app",
        default=APP,
        help=f"the application factory (module:callable) to serve (default {APP}, the project); the benchmarks "
        "serve their bare peers this way, on the same server with the same options",
    )
    arguments = parser.parse_args(argv)
    if arguments.workers < 1:
        parser.error(f"--workers must be 1 or more, not {arguments.workers}")

    if arguments.fd is not None:
        send_small_writes_at_once(arguments.fd)

    import uvicorn

    uvicorn.run(
        arguments.app,
        **uvicorn_options(
            host=arguments.host,
            port=arguments.port,
            fd=arguments.fd,
            workers=arguments.workers,
            access_log=arguments.access_log,
        ),
    )


if __name__ == "__main__":
    main()
