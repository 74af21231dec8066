"""The demo's embedded broker for real: a Celery worker process on kombu's SQLAlchemy transport over SQLite."""

import contextlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
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


def demo_environment(broker_url: str) -> dict[str, str]:
    """The demo's settings (no PostgreSQL, no Redis) with the broker in `broker_url`."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}}
    return env | {"CELERY_BROKER_URL": broker_url, "LOG_LEVEL": "DEBUG", "PYTHONUNBUFFERED": "1"}


def prepare_embedded_broker(broker_url: str) -> None:
    """What `python -m config.demo` does before it starts the processes, in a process of the demo's settings."""
    subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); import config.celery as c; c.prepare_embedded_broker()"],
        cwd=ROOT,
        env=demo_environment(broker_url) | {"DJANGO_SETTINGS_MODULE": "config.settings.local"},
        check=True,
        timeout=WAIT,
    )


# kombu's models use SQLAlchemy's `noload`, deprecated (not removed) in SQLAlchemy 2.1, which kombu 5.7 allows.
@pytest.mark.filterwarnings("ignore:The ``noload`` loader strategy is deprecated")
def test_a_real_worker_runs_every_task_published_before_and_while_it_runs_and_stops_cleanly(tmp_path):
    broker_file = tmp_path / "broker.sqlite3"
    broker_url = f"sqla+sqlite:///{broker_file}"
    prepare_embedded_broker(broker_url)
    publisher = Celery("probe", broker=broker_url)
    before = {publisher.send_task("campaigns.settle_targets", args=[[]]).id for _ in range(20)}
    env = demo_environment(broker_url)
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

    # The next start deletes the delivered messages, and a poll is an index lookup, not a walk of them all.
    prepare_embedded_broker(broker_url)
    with contextlib.closing(sqlite3.connect(broker_file)) as broker:
        assert broker.execute("SELECT count(*) FROM kombu_message").fetchone() == (0,)
        assert broker.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert {name for (name,) in broker.execute("SELECT name FROM kombu_queue")} == {"celery", "dialer"}
        plan = broker.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM kombu_message WHERE kombu_message.queue_id = ? "
            "AND kombu_message.visible != 0 ORDER BY kombu_message.timestamp, kombu_message.id LIMIT ? OFFSET ?",
            [1, 1, 0],
        ).fetchall()
    assert "callwright_pending_messages" in str(plan)
