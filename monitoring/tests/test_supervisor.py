"""The demo's supervisor, on tiny Python child processes; every wait is on the output it writes."""

import os
import shlex
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from monitoring.supervisor import ProcessSpec, Supervisor, describe_exit, read_procfile

PYTHON = shlex.quote(sys.executable)
WAIT = 60  # seconds: a bound for a broken run, never reached by a passing one


def child(code: str) -> str:
    return f"{PYTHON} -c {shlex.quote(code)}"


SLEEPER = child("import signal; print('up', flush=True); signal.pause()")  # SIGTERM ends it
TERM_TRAPPER = child(
    "import signal, sys\n"
    "def stop(*_): print('got TERM', flush=True); sys.exit(0)\n"
    "signal.signal(signal.SIGTERM, stop); print('up', flush=True); signal.pause()"
)
TERM_IGNORER = child(
    "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); signal.pause()"
)


class Lines:
    """The supervisor's output: a file-like sink that tests wait on."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()

    def write(self, text: str) -> None:
        with self._changed:
            self.lines.extend(text.splitlines())
            self._changed.notify_all()

    def flush(self) -> None:
        pass

    def wait_for(self, predicate: Callable[[list[str]], bool]) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: predicate(self.lines), timeout=WAIT), "\n".join(self.lines)

    def count(self, text: str) -> int:
        return sum(text in line for line in self.lines)

    def of(self, name: str) -> list[str]:
        return [line.split(" | ", 1)[1] for line in self.lines if line.split(" | ", 1)[0].split()[-1] == name]


class Running:
    """A supervisor run on a thread; `result()` joins it."""

    def __init__(self, supervisor: Supervisor) -> None:
        self.exit_code: list[int] = []
        self._thread = threading.Thread(target=lambda: self.exit_code.append(supervisor.run(handle_signals=False)))
        self._thread.start()

    def result(self) -> int:
        self._thread.join(WAIT)
        assert not self._thread.is_alive()
        return self.exit_code[0]


def supervise(specs: list[ProcessSpec], lines: Lines, **options: object) -> tuple[Supervisor, Running]:
    options = {"grace_seconds": 10.0, "first_backoff_seconds": 0.0, **options}
    supervisor = Supervisor(specs, output=lines, **options)  # type: ignore[arg-type]
    return supervisor, Running(supervisor)


def test_a_child_that_dies_is_restarted_with_one_line_saying_so():
    lines = Lines()
    flaky = child("import sys; print('up', flush=True); sys.exit(3)")
    supervisor, running = supervise(
        [ProcessSpec("flaky", flaky), ProcessSpec("steady", SLEEPER)], lines, max_quick_restarts=100
    )
    lines.wait_for(lambda _: lines.of("flaky").count("up") >= 3 and "up" in lines.of("steady"))
    supervisor.stop()
    assert running.result() == 0
    assert lines.count("flaky exited with code 3 after") >= 2
    assert lines.count("restarting it in 0 s") >= 2
    assert lines.of("steady").count("up") == 1  # its sibling was left alone
    assert lines.count("steady exited") == 0


def test_a_child_that_keeps_failing_stops_everything_with_one_line_naming_it():
    lines = Lines()
    broken = child("import sys; print('no database', flush=True); sys.exit(1)")
    _, running = supervise([ProcessSpec("steady", SLEEPER), ProcessSpec("broken", broken)], lines, max_quick_restarts=2)
    assert running.result() == 1
    verdicts = [line for line in lines.of("supervisor") if line.startswith("stopping everything")]
    assert verdicts == [
        "stopping everything: broken exited with code 1, and it failed 3 times in a row within 30 s of "
        "starting; its last lines are above."
    ]
    assert lines.of("broken").count("no database") == 3
    assert "did not stop" not in "\n".join(lines.lines)  # the steady sibling stopped on SIGTERM


def test_stop_sends_sigterm_and_waits_for_a_clean_exit():
    lines = Lines()
    ready = threading.Event()
    supervisor, running = supervise(
        [ProcessSpec("worker", TERM_TRAPPER)], lines, ready_markers={"worker": "up"}, on_ready=ready.set
    )
    assert ready.wait(WAIT)
    supervisor.stop()
    assert running.result() == 0
    assert lines.of("worker")[-1] == "got TERM"
    assert lines.of("supervisor")[-1] == "all stopped"
    assert lines.count("restarting") == 0


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace_time_and_named():
    lines = Lines()
    ready = threading.Event()
    supervisor, running = supervise(
        [ProcessSpec("stubborn", TERM_IGNORER), ProcessSpec("polite", TERM_TRAPPER)],
        lines,
        grace_seconds=0.2,
        ready_markers={"stubborn": "up", "polite": "up"},
        on_ready=ready.set,
    )
    assert ready.wait(WAIT)
    supervisor.stop()
    assert running.result() == 0
    assert "stubborn did not stop in time; killing it (SIGKILL)" in lines.of("supervisor")
    assert "polite did not stop in time; killing it (SIGKILL)" not in lines.of("supervisor")


def test_on_ready_waits_for_every_marker_and_the_check_and_runs_once():
    lines = Lines()
    calls: list[str] = []
    check_open = threading.Event()
    late = child("import signal; print('warming up', flush=True); signal.pause()")
    supervisor, running = supervise(
        [ProcessSpec("early", SLEEPER), ProcessSpec("late", late)],
        lines,
        ready_markers={"early": "up"},
        ready_check=check_open.is_set,
        on_ready=lambda: (calls.append("ready"), lines.write("READY\n")),
        poll_seconds=0.01,
    )
    lines.wait_for(lambda _: "up" in lines.of("early") and "warming up" in lines.of("late"))
    assert calls == []  # the markers are there, the check is not yet true
    check_open.set()
    lines.wait_for(lambda seen: "READY" in seen)
    supervisor.stop()
    assert running.result() == 0
    assert calls == ["ready"]


def test_the_environment_fills_in_dollar_names():
    lines = Lines()
    echo = child("import signal, sys; print('port', sys.argv[1], flush=True); signal.pause()") + " $PORT"
    supervisor, running = supervise([ProcessSpec("echo", echo)], lines, env={"PORT": "8123", "PATH": "/usr/bin:/bin"})
    lines.wait_for(lambda _: "port 8123" in lines.of("echo"))
    supervisor.stop()
    assert running.result() == 0


def test_a_program_that_does_not_exist_stops_everything_with_one_line():
    lines = Lines()
    _, running = supervise([ProcessSpec("ghost", "no-such-program-here --flag")], lines)
    assert running.result() == 1
    (verdict,) = [line for line in lines.of("supervisor") if line.startswith("stopping everything")]
    assert verdict.startswith("stopping everything: ghost could not be started (")
    assert "no-such-program-here" in verdict


def test_read_procfile_reads_names_and_commands_and_refuses_a_bad_line(tmp_path: Path):
    procfile = tmp_path / "Procfile"
    procfile.write_text("# the demo\nweb: serve --port $PORT\n\nbeat: celery -A config beat\n")
    assert read_procfile(procfile) == [
        ProcessSpec("web", "serve --port $PORT"),
        ProcessSpec("beat", "celery -A config beat"),
    ]
    procfile.write_text("web serve\n")
    with pytest.raises(ValueError, match=r"line 1: expected `name: command`"):
        read_procfile(procfile)


@pytest.mark.parametrize(
    ("returncode", "words"),
    [
        (1, "exited with code 1"),
        (-9, "was killed by SIGKILL"),
        (137, "was killed by SIGKILL"),
        (0, "exited with code 0"),
    ],
)
def test_describe_exit_names_the_signal(returncode: int, words: str):
    assert describe_exit(returncode) == words


class ClosedPipe:
    """An output whose reader has gone (`make run | tee`, tee ended by the same Ctrl-C)."""

    def write(self, text: str) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self) -> None:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_output_does_not_stop_the_supervisor_from_stopping_its_children():
    ready = threading.Event()
    supervisor = Supervisor(
        [ProcessSpec("worker", TERM_TRAPPER)],
        output=ClosedPipe(),  # type: ignore[arg-type]
        ready_markers={"worker": "up"},
        on_ready=ready.set,
    )
    running = Running(supervisor)
    assert ready.wait(WAIT)
    pid = supervisor.pids()["worker"]
    supervisor.stop()
    assert running.result() == 0
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_child_killed_by_sigkill_is_restarted_with_one_line_naming_the_signal():
    """As `kill -9` of the worker or the dialer under `make run`: the stack stays up, that one comes back."""
    import signal

    lines = Lines()
    supervisor, running = supervise([ProcessSpec("dialer", SLEEPER), ProcessSpec("web", SLEEPER)], lines)
    lines.wait_for(lambda _: "up" in lines.of("dialer") and "up" in lines.of("web"))
    first = supervisor.pids()["dialer"]
    os.kill(first, signal.SIGKILL)
    lines.wait_for(lambda _: lines.of("dialer").count("up") == 2)
    assert supervisor.pids()["dialer"] != first
    supervisor.stop()
    assert running.result() == 0
    assert lines.count("dialer was killed by SIGKILL after") == 1
    assert lines.count("restarting it in 0 s") == 1
    assert lines.of("web").count("up") == 1  # its sibling was left alone
