"""The demo's embedded broker for real: a Celery worker process on kombu's SQLAlchemy transport over SQLite."""

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

from celery import Celery

ROOT = Path(__file__).resolve().parents[2]
SUCCEEDED = re.compile(r"Task campaigns\.settle_targets\[([0-9a-f-]{36})\] succeeded")
WAIT = 120  # seconds: a bound for a broken run, never reached by a passing one


class WorkerOutput:
    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self.succeeded: set[str] = set()
        self.changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            with self.changed:
                self.lines.append(line)
                if match := SUCCEEDED.search(line):
                    self.succeeded.add(match[1])
                self.changed.notify_all()

    def wait_for(self, ids: set[str]) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: ids <= self.succeeded, timeout=WAIT), "".join(self.lines[-40:])

    def joined(self) -> str:
        self._thread.join(WAIT)
        return "".join(self.lines)


def test_a_real_worker_runs_every_task_published_before_and_while_it_runs_and_stops_cleanly(tmp_path):
    broker_url = f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}"
    publisher = Celery("probe", broker=broker_url)
    # Published before the worker starts: this process creates the broker's tables and queue alone.
    before = {publisher.send_task("campaigns.settle_targets", args=[[]]).id for _ in range(20)}
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    env |= {"CELERY_BROKER_URL": broker_url, "LOG_LEVEL": "DEBUG", "PYTHONUNBUFFERED": "1"}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "--quiet", "worker", "--concurrency", "2", "-Q", "celery"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output = WorkerOutput(worker)
        output.wait_for(before)
        during = {publisher.send_task("campaigns.settle_targets", args=[[]]).id for _ in range(20)}
        output.wait_for(during)
    finally:
        worker.send_signal(signal.SIGTERM)  # Celery's warm shutdown
        returncode = worker.wait(WAIT)
    log = output.joined()
    assert returncode == 0, log[-3000:]
    assert "Warm shutdown" in log
    assert " ERROR " not in log
    assert "Traceback" not in log
