"""Soak of the embedded demo stack: `python -m bench.soak_stack --minutes 15 [--port 8741] [--probes-per-second 5]`.

Runs the Procfile (web, worker, dialer, beat) under the demo's supervisor on SQLite and the embedded
broker (a fresh `var/soak-broker.sqlite3`, so the counts are this run's), with beat's real schedule —
the dialer tick every DIALER_TICK_SECONDS — and, beside it, probe tasks (`campaigns.settle_targets`
with no calls: a no-op) published from this process at a steady rate, so that several processes write
to the broker while two consumers fetch from it. Celery logs at DEBUG so that every publish by beat,
every delivery and every success is a line to count.

With `--campaign-contacts N` (default 30) a campaign of N fresh fictional numbers (555-01xx in several
US area codes, each new to the database) is launched at the start, so calls, retries and settlements
run through the same broker during the soak.

Reported (stdout and `bench/results/soak_stack.json`): beat's sends and the successes per task, probes
published / succeeded / lost (published, never succeeded, not pending in the broker at the end), their
publish-to-success latency, error and traceback lines, supervisor restarts, and the broker file's size.
Every `--sample-seconds` (default 60) each process group (a Procfile line: the leader and its pool) is
sampled: processes, resident (RSS) and proportional (PSS, shared pages split between sharers) memory,
and open file descriptors; the report gives them at start, middle and end, the peak, and each leader's
pids over the run (more than one = it died and was restarted). Not part of `make test`.
"""

import argparse
import json
import os
import re
import statistics
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from monitoring.supervisor import Supervisor

BASE_DIR = Path(__file__).resolve().parent.parent
RESULTS = BASE_DIR / "bench" / "results" / "soak_stack.json"
SAMPLES = BASE_DIR / "var" / "soak-samples.jsonl"
SUCCEEDED = re.compile(r"Task ([\w.]+)\[([0-9a-f-]{36})\] succeeded")
RECEIVED = re.compile(r"Task ([\w.]+)\[([0-9a-f-]{36})\] received")
BEAT_SENT = re.compile(r"Sending due task .*\(([\w.]+)\)")
PROBE_TASK = "campaigns.settle_targets"


class OutputCounter:
    """A file-like sink for the supervisor's merged output: counts what the soak reports, keeps a log."""

    def __init__(self, log_path: Path) -> None:
        self.lock = threading.Lock()
        self.beat_sent: Counter[str] = Counter()
        self.succeeded: Counter[str] = Counter()
        self.received = 0
        self.succeeded_at: dict[str, float] = {}
        self.errors: list[str] = []
        self.supervisor_lines: list[str] = []
        self.all_succeeded = threading.Condition(self.lock)
        self._log = log_path.open("w")

    def write(self, text: str) -> None:
        now = time.monotonic()
        self._log.write(text)
        for line in text.splitlines():
            with self.lock:
                if match := SUCCEEDED.search(line):
                    self.succeeded[match[1]] += 1
                    self.succeeded_at[match[2]] = now
                    self.all_succeeded.notify_all()
                elif RECEIVED.search(line):
                    self.received += 1
                elif match := BEAT_SENT.search(line):
                    self.beat_sent[match[1]] += 1
                if " ERROR " in line or " CRITICAL " in line or "Traceback" in line:
                    self.errors.append(line)
                if " supervisor | " in line and ("restarting" in line or "stopping everything" in line):
                    self.supervisor_lines.append(line)

    def flush(self) -> None:
        self._log.flush()


def group_sample(leader_pid: int) -> dict[str, float]:
    """Processes, RSS and PSS (MiB) and open fds of every process in the leader's group (it and its pool)."""
    processes = rss_kib = pss_kib = fds = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.getpgid(int(entry.name)) != leader_pid:
                continue
            status = (entry / "status").read_text()
            rollup = (entry / "smaps_rollup").read_text()
            open_fds = sum(1 for _ in (entry / "fd").iterdir())
        except (OSError, ProcessLookupError):
            continue
        processes += 1
        rss = re.search(r"VmRSS:\s+(\d+) kB", status)
        pss = re.search(r"^Pss:\s+(\d+) kB", rollup, re.MULTILINE)
        rss_kib += int(rss[1]) if rss else 0
        pss_kib += int(pss[1]) if pss else 0
        fds += open_fds
    return {
        "processes": processes,
        "rss_mib": round(rss_kib / 1024, 1),
        "pss_mib": round(pss_kib / 1024, 1),
        "fds": fds,
    }


class Sampler(threading.Thread):
    """Samples every process group of the supervisor at a fixed period until stopped."""

    def __init__(self, supervisor: "Supervisor", period: float) -> None:
        super().__init__(daemon=True)
        self.supervisor = supervisor
        self.period = period
        self.samples: list[dict] = []
        self.leader_pids: dict[str, list[int]] = {}
        self.stopped = threading.Event()
        self.started_at = time.monotonic()

    def sample(self) -> None:
        row: dict = {"minute": round((time.monotonic() - self.started_at) / 60, 1)}
        for name, pid in self.supervisor.pids().items():
            seen = self.leader_pids.setdefault(name, [])
            if pid not in seen:
                seen.append(pid)
            row[name] = group_sample(pid)
        self.samples.append(row)
        with SAMPLES.open("a") as log:
            log.write(json.dumps(row) + "\n")

    def run(self) -> None:
        while True:
            self.sample()
            if self.stopped.wait(self.period):  # the sampling period, not a wait for a result
                return

    def summary(self) -> dict:
        if not self.samples:
            return {}
        picks = {"start": self.samples[0], "middle": self.samples[len(self.samples) // 2], "end": self.samples[-1]}
        names = sorted({k for row in self.samples for k in row if k != "minute"})
        out: dict = {"samples": len(self.samples), "period_seconds": self.period}
        for name in names:
            out[name] = {
                **{f"{when}_minute_{row['minute']}": row.get(name) for when, row in picks.items()},
                "peak_rss_mib": max(row[name]["rss_mib"] for row in self.samples if name in row),
                "peak_pss_mib": max(row[name]["pss_mib"] for row in self.samples if name in row),
                "peak_fds": max(row[name]["fds"] for row in self.samples if name in row),
                "leader_pids": self.leader_pids.get(name, []),
            }
        return out


def launch_soak_campaign(size: int) -> int | None:
    """A running campaign over `size` fictional numbers not yet in the database; None if none are left."""
    import datetime

    from django.utils import timezone

    from campaigns.management.commands.load_demo import DEMO_RETRY_POLICY
    from campaigns.models import Agent, Campaign
    from campaigns.services.lifecycle import campaign_launch
    from contacts.models import Contact, ContactList
    from contacts.services import contact_upsert

    candidates = [f"+1{area}55501{n:02d}" for area in (202, 312, 415, 617, 503, 720) for n in range(100)]
    taken = set(Contact.objects.filter(phone__in=candidates).values_list("phone", flat=True))
    fresh = [phone for phone in candidates if phone not in taken][:size]
    agent = Agent.objects.order_by("pk").first()
    if not fresh or agent is None:
        print("soak: no fresh numbers left (or no agent: run load_demo); running without a campaign")
        return None
    stamp = timezone.now().strftime("%Y-%m-%d %H:%M:%S")
    contact_list = ContactList.objects.create(name=f"Soak {stamp}")
    for index, phone in enumerate(fresh):
        contact_upsert(phone=phone, first_name=f"Soak{index}", last_name="Test", lists=[contact_list])
    campaign = Campaign.objects.create(
        name=f"Soak {stamp}",
        agent=agent,
        days_of_week=[1, 2, 3, 4, 5, 6, 7],
        window_start=datetime.time(8),
        window_end=datetime.time(21),
        max_concurrent_calls=5,
        max_attempts=3,
        retry_policy=DEMO_RETRY_POLICY,
    )
    campaign.contact_lists.add(contact_list)
    campaign_launch(campaign_id=campaign.pk)
    return campaign.pk


def calls_of(campaign_id: int | None) -> dict[str, int]:
    if campaign_id is None:
        return {}
    from django.db.models import Count

    from calls.models import Call

    rows = Call.objects.filter(campaign_id=campaign_id).values("status").annotate(n=Count("id"))
    return {row["status"]: row["n"] for row in rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--port", type=int, default=8741)
    parser.add_argument("--probes-per-second", type=float, default=5.0)
    parser.add_argument("--campaign-contacts", type=int, default=30)
    parser.add_argument("--sample-seconds", type=float, default=60.0)
    args = parser.parse_args()

    broker_file = BASE_DIR / "var" / "soak-broker.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{broker_file}{suffix}").unlink(missing_ok=True)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        CELERY_BROKER_URL=f"sqla+sqlite:///{broker_file}",
        PORT=str(args.port),
        PYTHONUNBUFFERED="1",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    import django

    django.setup()
    from django.core.management import call_command

    from config.celery import READY_MARKER, prepare_embedded_broker
    from config.celery import app as celery_app
    from config.demo import HOST, port_answers, port_is_free
    from monitoring.supervisor import Supervisor, read_procfile

    if not port_is_free(HOST, args.port):
        print(f"port {args.port} is in use; pass --port", file=sys.stderr)
        return 2
    call_command("migrate", verbosity=0)
    call_command("setup_periodic_tasks", verbosity=0)
    prepare_embedded_broker()

    counter = OutputCounter(BASE_DIR / "var" / "soak-stack.log")
    specs = read_procfile(BASE_DIR / "Procfile")
    ready = threading.Event()
    supervisor = Supervisor(
        specs,
        env={**os.environ, "LOG_LEVEL": "DEBUG"},
        cwd=BASE_DIR,
        output=counter,  # type: ignore[arg-type]
        ready_markers={s.name: READY_MARKER for s in specs if s.command.startswith("celery ")},
        ready_check=lambda: port_answers(HOST, args.port),
        on_ready=ready.set,
    )
    exit_code: list[int] = []
    runner = threading.Thread(target=lambda: exit_code.append(supervisor.run(handle_signals=False)))
    runner.start()
    if not ready.wait(120):
        supervisor.stop()
        runner.join()
        print("the stack did not become ready within 120 s; see var/soak-stack.log", file=sys.stderr)
        return 1
    campaign_id = launch_soak_campaign(args.campaign_contacts) if args.campaign_contacts else None
    SAMPLES.unlink(missing_ok=True)
    sampler = Sampler(supervisor, args.sample_seconds)
    sampler.start()
    published_at: dict[str, float] = {}
    publish_errors: list[str] = []
    interval = 1.0 / args.probes_per_second
    started = time.monotonic()
    deadline = started + args.minutes * 60
    next_at = started
    while (now := time.monotonic()) < deadline and not exit_code:
        if now < next_at:
            time.sleep(next_at - now)  # pacing of the probe publisher, not a wait for a result
            continue
        next_at += interval
        try:
            result = celery_app.send_task(PROBE_TASK, args=[[]])
            published_at[result.id] = time.monotonic()
        except Exception as error:  # a failed publish is a finding: counted, reported
            publish_errors.append(repr(error))
    sampler.stopped.set()
    sampler.join()
    sampler.sample()  # the last sample, at the end of the probes
    # Wait (bounded) for the probes in flight to finish: on the counter's condition, not a fixed sleep.
    with counter.lock:
        counter.all_succeeded.wait_for(lambda: published_at.keys() <= counter.succeeded_at.keys(), timeout=60)
        done = {task_id: counter.succeeded_at[task_id] for task_id in published_at if task_id in counter.succeeded_at}
    supervisor.stop()
    runner.join()

    import sqlite3

    with sqlite3.connect(broker_file) as broker:
        pending = dict(
            broker.execute(
                "SELECT q.name, count(*) FROM kombu_message m JOIN kombu_queue q ON q.id = m.queue_id "
                "WHERE m.visible = 1 GROUP BY q.name"
            ).fetchall()
        )
        stored = broker.execute("SELECT count(*) FROM kombu_message").fetchone()[0]
    calls_by_status = calls_of(campaign_id)
    latencies = sorted(done[t] - published_at[t] for t in done)
    probes_succeeded = len(done)
    report = {
        "minutes": args.minutes,
        "dialer_tick_seconds": int(os.environ.get("DIALER_TICK_SECONDS", "2")),
        "probes_per_second": args.probes_per_second,
        "beat_sent": dict(counter.beat_sent),
        "succeeded": dict(counter.succeeded),
        "probes_published": len(published_at),
        "probes_succeeded": probes_succeeded,
        "probes_lost": len(published_at) - probes_succeeded - pending.get("celery", 0),
        "publish_errors": len(publish_errors),
        "probe_latency_ms": {
            "p50": round(1000 * statistics.median(latencies), 1) if latencies else None,
            "p99": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 1) if latencies else None,
            "max": round(1000 * latencies[-1], 1) if latencies else None,
        },
        "pending_in_broker_at_end": pending,
        "messages_stored_in_broker": stored,
        "broker_file_mib": round(
            sum(Path(f"{broker_file}{s}").stat().st_size for s in ("", "-wal") if Path(f"{broker_file}{s}").exists())
            / 2**20,
            2,
        ),
        "campaign_calls_by_status": calls_by_status,
        "error_lines": len(counter.errors),
        "first_error_lines": counter.errors[:10],
        "supervisor_restarts_or_stops": counter.supervisor_lines,
        "processes_sampled": sampler.summary(),
        "any_process_died": bool(counter.supervisor_lines)
        or any(len(pids) > 1 for pids in sampler.leader_pids.values()),
        "supervisor_exit_code": exit_code[0] if exit_code else None,
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
