"""A small process supervisor for the one-command demo: runs a Procfile's processes and keeps them up.

honcho (what `make run` used before) stops every process when one exits, so one crash took the
whole demo down. Here a process that exits is started again after a backoff (1 s, doubling up to
30 s; the count starts over once it has stayed up for `stable_seconds`), with one line saying which
process exited, how, and when it comes back. A process that keeps failing right after its start
(`max_quick_restarts` times in a row) stops the whole stack with one line saying which and why,
rather than restarting for ever.

Stopping (Ctrl-C, SIGTERM, `stop()`): every process gets SIGTERM — Celery's signal for a warm
shutdown, which hands unfinished messages back to the broker and stops its pool itself — and every
process group still running after `grace_seconds` gets SIGKILL, named in a line. A second Ctrl-C
kills at once.

A Procfile line is one command, run without a shell, so the signal reaches the program itself (a
shell in between would die at SIGTERM and leave its child behind); `$NAME` is replaced from the
environment. Each process runs in a session of its own, so a terminal's Ctrl-C reaches only the
supervisor, which then stops them. Output is merged line by line, each line prefixed with the time
and the process name. Django-free: the demo's command (`python -m config.demo`) adds the port check and
the login.
"""

import contextlib
import dataclasses
import os
import queue
import shlex
import signal
import string
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

SUPERVISOR_NAME = "supervisor"


@dataclasses.dataclass(frozen=True)
class ProcessSpec:
    name: str
    command: str


def read_procfile(path: Path) -> list[ProcessSpec]:
    """`name: command` lines; blank lines and `#` comments are skipped. Raises ValueError on a bad line."""
    specs: list[ProcessSpec] = []
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, command = line.partition(":")
        if not sep or not name.strip() or not command.strip() or " " in name.strip():
            raise ValueError(f"{path}, line {number}: expected `name: command`, got {raw!r}")
        specs.append(ProcessSpec(name.strip(), command.strip()))
    if len({spec.name for spec in specs}) != len(specs):
        raise ValueError(f"{path}: a process name is used twice")
    return specs


def describe_exit(returncode: int) -> str:
    """'exited with code 1', 'was killed by SIGKILL' (a negative code, or 128+n from the shell)."""
    number = -returncode if returncode < 0 else returncode - 128 if returncode > 128 else 0
    if number:
        try:
            return f"was killed by {signal.Signals(number).name}"
        except ValueError:
            pass
    return f"exited with code {returncode}"


@dataclasses.dataclass
class _Child:
    spec: ProcessSpec
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    quick_failures: int = 0  # exits in a row, each within stable_seconds of its start
    restart_at: float | None = None  # when a restart is due


class Supervisor:
    """Runs `specs` until stopped; `run()` returns 0 after a requested stop, 1 after giving up.

    `on_ready` is called once, on the supervisor's thread, when every process is running, each process
    named in `ready_markers` has printed a line containing its marker, and `ready_check()` (if given)
    returns True: the demo prints the login then, so that it is the last line on the screen.
    """

    def __init__(
        self,
        specs: list[ProcessSpec],
        *,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        output: IO[str] | None = None,
        grace_seconds: float = 10.0,
        first_backoff_seconds: float = 1.0,
        max_backoff_seconds: float = 30.0,
        stable_seconds: float = 30.0,
        max_quick_restarts: int = 5,
        ready_markers: dict[str, str] | None = None,
        ready_check: Callable[[], bool] | None = None,
        on_ready: Callable[[], None] | None = None,
        poll_seconds: float = 0.2,
    ) -> None:
        self._children = {spec.name: _Child(spec) for spec in specs}
        self._env = env
        self._cwd = cwd
        self._output = output or sys.stdout
        self._output_lock = threading.Lock()
        self._grace_seconds = grace_seconds
        self._first_backoff = first_backoff_seconds
        self._max_backoff = max_backoff_seconds
        self._stable_seconds = stable_seconds
        self._max_quick_restarts = max_quick_restarts
        self._ready_markers = dict(ready_markers or {})
        self._marked_ready: set[str] = set()  # written by the output threads, read by run()
        self._ready_check = ready_check
        self._on_ready = on_ready
        self._poll_seconds = poll_seconds
        # SimpleQueue.put is safe to call from a signal handler (it takes no lock the main thread may hold).
        self._events: queue.SimpleQueue[tuple[str, object]] = queue.SimpleQueue()
        self._name_width = max((len(name) for name in [*self._children, SUPERVISOR_NAME]), default=0)
        self._stopping = False

    # ---- public -------------------------------------------------------------------------------------

    def run(self, *, handle_signals: bool = True) -> int:
        if handle_signals:
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, lambda number, _frame: self._events.put(("signal", number)))
        try:
            return self._supervise()
        finally:
            # Normally every process has exited by now; after an unexpected error none may outlive us.
            for child in self._children.values():
                if child.process is not None and child.process.poll() is None:
                    self._kill_group(child.process, signal.SIGKILL)

    def _supervise(self) -> int:
        for child in self._children.values():
            if (failure := self._start(child)) is not None:
                self.say(failure)
                return self._stop_all(exit_code=1)
        ready = self._on_ready is None
        while True:
            timeout = self._next_timeout(waiting_for_ready=not ready)
            try:
                kind, payload = self._events.get(timeout=timeout)
            except queue.Empty:
                kind, payload = "tick", None
            if kind == "signal" or kind == "stop":
                return self._stop_all(exit_code=0)
            if kind == "exited":
                name, returncode = payload  # type: ignore[misc]
                verdict = self._after_exit(self._children[name], returncode)
                if verdict is not None:
                    self.say(verdict)
                    return self._stop_all(exit_code=1)
            if (failure := self._restart_due()) is not None:
                self.say(failure)
                return self._stop_all(exit_code=1)
            if not ready and self._is_ready():
                ready = True
                self._on_ready()  # type: ignore[misc]

    def stop(self) -> None:
        """Ask `run()` (on another thread) to stop everything; returns at once."""
        self._events.put(("stop", None))

    def pids(self) -> dict[str, int]:
        """The running processes' ids by name (a process waiting for its restart is left out)."""
        return {name: c.process.pid for name, c in self._children.items() if c.process is not None}

    def say(self, message: str) -> None:
        self._write(SUPERVISOR_NAME, message)

    # ---- starting and exits -------------------------------------------------------------------------

    def _start(self, child: _Child) -> str | None:
        """Start the child's process; or return the line that stops the stack (no such program, …)."""
        child.restart_at = None
        child.started_at = time.monotonic()
        environment = os.environ if self._env is None else self._env
        try:
            argv = shlex.split(string.Template(child.spec.command).safe_substitute(environment))
            process = self._spawn(argv)
        except (OSError, ValueError) as error:
            return f"stopping everything: {child.spec.name} could not be started ({error}): {child.spec.command}"
        child.process = process
        self.say(f"started {child.spec.name} (pid {process.pid}): {child.spec.command}")
        pump = threading.Thread(target=self._pump, args=(child.spec.name, process), daemon=True)
        pump.start()
        threading.Thread(target=self._wait, args=(child.spec.name, process, pump), daemon=True).start()
        return None

    def _spawn(self, argv: list[str]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(  # noqa: S603 - the operator's own Procfile
            argv,
            cwd=self._cwd,
            env=self._env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def _pump(self, name: str, process: subprocess.Popen[bytes]) -> None:
        if process.stdout is None:  # not with stdout=PIPE; keeps the type checker told
            return
        marker = self._ready_markers.get(name)
        for raw in process.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            self._write(name, line)
            if marker is not None and marker in line:
                self._marked_ready.add(name)

    def _wait(self, name: str, process: subprocess.Popen[bytes], pump: threading.Thread) -> None:
        returncode = process.wait()
        # Whatever the process left in its group (a Celery pool child whose parent was killed) goes
        # too, or it would hold its queue and the output pipe after a restart.
        self._kill_group(process, signal.SIGKILL)
        pump.join(timeout=5)  # its last lines come before the line that says it exited
        self._events.put(("exited", (name, returncode)))

    def _after_exit(self, child: _Child, returncode: int) -> str | None:
        """Schedule the restart and say so; or return the one line that stops the stack."""
        if self._stopping:
            return None
        child.process = None
        uptime = time.monotonic() - child.started_at
        child.quick_failures = child.quick_failures + 1 if uptime < self._stable_seconds else 1
        how = describe_exit(returncode)
        if child.quick_failures > self._max_quick_restarts:
            return (
                f"stopping everything: {child.spec.name} {how}, and it failed {child.quick_failures} times in a "
                f"row within {self._stable_seconds:g} s of starting; its last lines are above."
            )
        delay = min(self._first_backoff * 2 ** (child.quick_failures - 1), self._max_backoff)
        child.restart_at = time.monotonic() + delay
        self.say(f"{child.spec.name} {how} after {uptime:.0f} s; restarting it in {delay:g} s")
        return None

    def _restart_due(self) -> str | None:
        now = time.monotonic()
        for child in self._children.values():
            due = child.restart_at is not None and child.restart_at <= now
            if due and (failure := self._start(child)) is not None:
                return failure
        return None

    def _is_ready(self) -> bool:
        return (
            all(child.process is not None for child in self._children.values())
            and self._marked_ready >= self._ready_markers.keys()
            and (self._ready_check is None or self._ready_check())
        )

    def _next_timeout(self, *, waiting_for_ready: bool) -> float | None:
        due = [child.restart_at for child in self._children.values() if child.restart_at is not None]
        timeout = max(0.0, min(due) - time.monotonic()) if due else None
        if waiting_for_ready:
            timeout = self._poll_seconds if timeout is None else min(timeout, self._poll_seconds)
        return timeout

    # ---- stopping -----------------------------------------------------------------------------------

    def _stop_all(self, *, exit_code: int) -> int:
        self._stopping = True
        running = {name: c.process for name, c in self._children.items() if c.process is not None}
        if running:
            self.say(f"stopping {', '.join(running)} (SIGTERM; {self._grace_seconds:g} s grace)")
        for process in running.values():
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self._grace_seconds
        while running:
            try:
                kind, payload = self._events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if kind == "exited":
                running.pop(payload[0], None)  # type: ignore[index]
            elif kind == "signal":
                self.say("second interrupt: killing at once")
                break
        for name, process in running.items():
            self.say(f"{name} did not stop in time; killing it (SIGKILL)")
            self._kill_group(process, signal.SIGKILL)
            process.wait()
        if exit_code == 0:
            self.say("all stopped")
        return exit_code

    @staticmethod
    def _kill_group(process: subprocess.Popen[bytes], signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signum)  # the session leader's pid is its group's id

    def _write(self, name: str, line: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        with self._output_lock, contextlib.suppress(OSError, ValueError):
            # A closed terminal or pipe (`make run | tee` after Ctrl-C) must not stop the supervising.
            self._output.write(f"{stamp} {name:<{self._name_width}} | {line}\n")
            self._output.flush()
