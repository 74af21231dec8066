"""config.server: the one way the project is served, and the interpreter settings of a serving process."""

import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from config import server

ROOT = Path(__file__).resolve().parents[2]
ENV = {"DJANGO_SETTINGS_MODULE": "config.settings.test", "PATH": "/usr/bin:/bin"}


def fresh_process(code: str) -> list[str]:
    """Run `code` in a new interpreter, as a server worker starts; its printed words."""
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60, env=ENV
    ).stdout.split()


def test_the_served_application_is_the_asgi_one_in_a_process_with_its_startup_objects_frozen():
    """A full collection over the import-time objects stops the event loop (every call's audio waits);
    frozen at start-up, they are never walked again."""
    words = fresh_process(
        "import gc, sys; from config.server import served_application; app = served_application(); "
        "import config.asgi; "
        "print(gc.get_freeze_count(), app is config.asgi.application, sys.getswitchinterval(), gc.get_threshold()[0])"
    )
    frozen, same_app, switch_interval, young_threshold = int(words[0]), words[1], float(words[2]), int(words[3])
    assert frozen > 50_000
    assert same_app == "True"
    # A frame due while a thread runs Django's synchronous work waits for the GIL at most this long.
    assert switch_interval == 0.001
    # Young collections promote the requests and frames in flight: ten times rarer than Python's 700.
    assert young_threshold == 7000


def test_importing_the_asgi_module_leaves_the_interpreter_as_python_set_it():
    words = fresh_process(
        "import gc, sys; import config.asgi; "
        "print(gc.get_freeze_count(), sys.getswitchinterval(), gc.get_threshold()[0])"
    )
    assert words == ["0", "0.005", "700"]


def test_a_reserved_port_is_taken_but_refuses_connections_until_a_server_listens_on_it():
    reserved = server.reserve()
    port = reserved.getsockname()[1]
    try:
        with socket.socket() as other, pytest.raises(OSError, match="Address already in use"):
            other.bind(("127.0.0.1", port))
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0
    finally:
        reserved.close()


def accepted_nodelay(prepare) -> int:
    """TCP_NODELAY of a connection accepted on a fresh listening socket that `prepare(fd)` was given first."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        prepare(listener.fileno())
        listener.listen()
        with socket.create_connection(listener.getsockname(), timeout=10) as _client:
            accepted, _ = listener.accept()
            with accepted:
                return accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_connections_accepted_on_an_inherited_socket_send_small_writes_at_once():
    # uvicorn serves an inherited socket as a Unix one and so leaves Nagle's algorithm on; set on the listening
    # socket, TCP_NODELAY reaches every connection it accepts, and the listening socket stays usable.
    assert accepted_nodelay(lambda fd: None) == 0  # what a connection gets unless told
    assert accepted_nodelay(server.send_small_writes_at_once) != 0


def test_an_inherited_socket_that_is_not_tcp_is_left_as_it_is():
    left, right = socket.socketpair()
    with left, right:
        server.send_small_writes_at_once(left.fileno())
        left.sendall(b"still open")
        assert right.recv(16) == b"still open"


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - our own loopback server
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_a_spawned_server_serves_the_project_on_its_reserved_port_and_shuts_down_on_sigterm():
    reserved = server.reserve()
    port = reserved.getsockname()[1]
    process = server.spawn(reserved, env=ENV, stderr=subprocess.PIPE)
    try:
        # The test settings have no broker: 503 proves as well as 200 that Django answered.
        assert status_of(f"http://127.0.0.1:{port}/health/") in (200, 503)
    finally:
        process.terminate()
        _, log = process.communicate(timeout=30)
    assert reserved.fileno() == -1  # handed over, and closed in this process
    assert "Shutting down" in log.decode()
    assert process.returncode == -signal.SIGTERM  # uvicorn re-raises the signal once shut down


def test_the_launcher_refuses_fewer_than_one_worker_in_words(capsys):
    with pytest.raises(SystemExit):
        server.main(["--workers=0"])

    assert "--workers must be 1 or more, not 0" in capsys.readouterr().err


def test_waiting_for_a_server_that_exits_fails_at_once_with_its_exit_code():
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    process.wait(timeout=30)

    with socket.socket() as reserved:  # bound, never listening: nothing else can accept on this port meanwhile
        reserved.bind(("127.0.0.1", 0))
        with pytest.raises(RuntimeError, match="exited with code 3"):
            server.wait_until_listening(reserved.getsockname()[1], process, seconds=30)
