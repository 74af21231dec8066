"""Soak of a campaign on the production-shaped stack: `python -m bench.soak_campaign --minutes 120`.

Run by hand (not part of `make test` or `make bench`). It starts the fault suite's stack
(`bench/campaign_stack.py`: web, worker, dialer and beat on PostgreSQL and a `redis-server` of its own,
every provider simulated, the carrier at 4x real time) and runs one campaign at the machine's pace for the
whole duration: contacts of every persona (talks, busy, no answer, voicemail, asks for a callback, asks
for removal, hangs up, interrupts), retries at once, and new contacts added to the campaign while it runs
whenever fewer than `REFILL_BELOW` targets are due, so that calls never stop.

Every `--sample-seconds` (60) it records, per process group (web, worker with its pool children, dialer,
beat, redis-server): processes, RSS and PSS (MiB), open fds and pids (a leader's new pid is a restart: a
dead process is started again and counted); PostgreSQL backends on its database by application and state
(each process connects as `callwright-<process>`); Redis `used_memory`, `connected_clients` and keys; the
calls placed and ended since the last sample, the calls open, and the error and traceback lines the logs
gained. Samples go to `var/soak-campaign-samples.jsonl` as they are taken; the processes' logs to
`var/soak-campaign/`. At the end the campaign is paused and drained, and the fault suite's checks run
(duplicates, lost targets, stuck calls, calls outside the window). Summary: stdout and
`bench/results/soak_campaign.json` — for each series its start, middle, end and peak, and its growth after
warm-up (least-squares slope from minute `--warm-up-minutes` (10) to the end, per hour). `--summarise` writes
the summary again from the samples file alone (a run cut short). `--label NAME` writes `var/NAME-samples.jsonl`,
`var/NAME/` and `bench/results/NAME.json` instead (dashes as underscores), for a second run beside the first;
`--trace-web` counts web's live objects by type and traces its allocations (`bench/traced.py`, one frame)
every 5 minutes into `var/NAME-tracemalloc/`.

Its database is `SOAK_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/callwright_soak`, dropped
and created: its name must end in `soak`), its Redis port `SOAK_REDIS_PORT` (6391), its web port
`SOAK_WEB_PORT` (8391). Exit code 1 if a process died or a target was lost, dialled twice or left stuck.
"""

import argparse
import dataclasses
import datetime
import json
import os
import re
import signal
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench import campaign_stack
from bench.campaign_stack import BASE_DIR, OwnRedis, Stack, StackConfig
from bench.faults import FaultRow, drain, heard_call_placed_after, score
from bench.soak_stack import group_sample

DEFAULT_LABEL = "soak-campaign"
FIRST_CONTACTS = 1000
REFILL_BELOW = 600  # targets due within a minute; at ~200 calls a minute, three minutes of work
REFILL_BATCH = 1000
CONCURRENCY = 20
ERROR_LINE = re.compile(r"\bERROR\b|\bCRITICAL\b|Traceback")
SAMPLER_APP = "callwright-soak-sampler"  # this process's own connections, left out of the backends counted


@dataclass(frozen=True)
class Outputs:
    """Where a run writes, by its label: `var/<label>-samples.jsonl`, `var/<label>/` (the processes' logs) and
    `bench/results/<label, dashes as underscores>.json`."""

    label: str = DEFAULT_LABEL

    @property
    def samples(self) -> Path:
        return BASE_DIR / "var" / f"{self.label}-samples.jsonl"

    @property
    def logs(self) -> Path:
        return BASE_DIR / "var" / self.label

    @property
    def results(self) -> Path:
        return BASE_DIR / "bench" / "results" / f"{self.label.replace('-', '_')}.json"


class LogWatch:
    """Counts the error and traceback lines each log gains between two looks (reads only what is new)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.offsets: dict[str, int] = {}
        self.first_lines: list[str] = []

    def new_errors(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for log in sorted(self.folder.glob("*.log")):
            with log.open("rb") as handle:
                handle.seek(self.offsets.get(log.name, 0))
                text = handle.read().decode(errors="replace")
                self.offsets[log.name] = handle.tell()
            lines = [line for line in text.splitlines() if ERROR_LINE.search(line)]
            if lines:
                counts[log.stem] = len(lines)
                self.first_lines.extend(f"{log.stem}: {line}" for line in lines[: 30 - len(self.first_lines)])
        return counts


class Soak:
    """The sampler: one `sample()` a period, each a row of the samples file."""

    def __init__(
        self, stack: Stack, redis_server: OwnRedis, config: StackConfig, campaign_id: int, samples: Path
    ) -> None:
        self.samples = samples
        self.stack = stack
        self.redis_server = redis_server
        self.config = config
        self.campaign_id = campaign_id
        self.logs = LogWatch(config.logs)
        self.started = time.monotonic()
        self.last_at = db_now()
        self.contacts_added = 0
        self.restarts: list[dict] = []
        self.rows: list[dict] = []

    def leaders(self) -> dict[str, int]:
        pids = {name: process.pid for name, process in self.stack.processes.items()}
        if self.redis_server.process is not None:
            pids["redis-server"] = self.redis_server.process.pid
        return pids

    def restart_the_dead(self, minute: float) -> None:
        """A process that exited is counted and started again (as a supervisor would), so the soak goes on."""
        for name, process in list(self.stack.processes.items()):
            if process.poll() is not None:
                self.restarts.append({"process": name, "minute": minute, "exit_code": process.returncode})
                self.stack.start(name)
        redis_process = self.redis_server.process
        if redis_process is not None and redis_process.poll() is not None:
            self.restarts.append({"process": "redis", "minute": minute, "exit_code": redis_process.returncode})
            self.redis_server.start()

    def sample(self, *, after_drain: bool = False) -> dict:
        """One row; `after_drain`: the campaign paused and drained (no refill, left out of the series)."""
        minute = round((time.monotonic() - self.started) / 60, 1)
        self.restart_the_dead(minute)
        row: dict = {"minute": minute, "at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")}
        if after_drain:
            row["after_drain"] = True
        row["load_average"] = [round(x, 2) for x in os.getloadavg()]
        for name, leader in self.leaders().items():
            row[name] = group_sample(leader) | {"leader": leader, "pids": pids_in_group(leader)}
        try:
            row["postgres"] = postgres_backends(self.config.database)
            now = db_now()
            row["calls"] = calls_between(self.campaign_id, self.last_at, now)
            self.last_at = now
            row["contacts_added"] = 0 if after_drain else self.refill()
        except Exception as error:  # a failed sample is a finding, recorded; the next one tries again
            row["sample_error"] = repr(error)
            close_connection()
        row["redis"] = redis_figures(self.config.redis_port)
        row["errors"] = self.logs.new_errors()
        self.rows.append(row)
        with self.samples.open("a") as samples:
            samples.write(json.dumps(row) + "\n")
        return row

    def refill(self) -> int:
        """New contacts into the campaign while fewer than REFILL_BELOW targets are due: the calls never stop."""
        from campaigns.models import Campaign, CampaignTarget
        from campaigns.services.targets import campaign_sync_targets

        soon = db_now() + datetime.timedelta(minutes=1)
        due = CampaignTarget.objects.filter(
            campaign_id=self.campaign_id, state=CampaignTarget.State.PENDING, next_attempt_at__lte=soon
        ).count()
        if due >= REFILL_BELOW:
            return 0
        contact_list = Campaign.objects.get(pk=self.campaign_id).contact_lists.get()
        campaign_stack.add_contacts(
            contact_list.pk, campaign_stack.fictional_phones(FIRST_CONTACTS + self.contacts_added, REFILL_BATCH), "Soak"
        )
        self.contacts_added += REFILL_BATCH
        campaign_sync_targets(campaign_id=self.campaign_id)
        return REFILL_BATCH


# ---- what is measured -------------------------------------------------------------------------------------


def pids_in_group(leader: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == leader:
                    pids.append(int(entry.name))
            except ProcessLookupError:
                continue
    return sorted(pids)


def postgres_backends(database: str) -> dict:
    """Backends on the run's database (this sampler's left out): in all, by application and by state."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(application_name, ''), coalesce(state, ''), count(*) FROM pg_stat_activity"
            " WHERE datname = %s AND application_name <> %s GROUP BY 1, 2",
            [database, SAMPLER_APP],
        )
        rows = cursor.fetchall()
    by_application: dict[str, int] = {}
    by_state: dict[str, int] = {}
    for application, state, count in rows:
        name = application.removeprefix("callwright-") or "(none)"
        by_application[name] = by_application.get(name, 0) + count
        by_state[state or "(none)"] = by_state.get(state or "(none)", 0) + count
    return {"backends": sum(by_application.values()), "by_application": by_application, "by_state": by_state}


def redis_figures(port: int) -> dict:
    import redis

    try:
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=5)
        memory, clients = client.info("memory"), client.info("clients")
        return {
            "used_memory_mib": round(memory["used_memory"] / 2**20, 2),
            "used_memory_rss_mib": round(memory["used_memory_rss"] / 2**20, 2),
            "connected_clients": clients["connected_clients"],
            "keys": client.dbsize(),
        }
    except redis.RedisError as error:
        return {"error": repr(error)}


def calls_between(campaign_id: int, since: datetime.datetime, until: datetime.datetime) -> dict:
    from calls.models import Call

    calls = Call.objects.filter(campaign_id=campaign_id)
    return {
        "placed": calls.filter(started_at__gte=since, started_at__lt=until).count(),
        "ended": calls.filter(ended_at__gte=since, ended_at__lt=until).count(),
        "open": calls.open().count(),
    }


def db_now() -> datetime.datetime:
    from django.utils import timezone

    return timezone.now()


def close_connection() -> None:
    from django.db import connection

    connection.close()


def outcome_counts(campaign_id: int) -> dict:
    from django.db.models import Count

    from calls.models import Call
    from campaigns.models import CampaignTarget

    calls = Call.objects.filter(campaign_id=campaign_id)
    return {
        "calls_by_status": dict(calls.values_list("status").annotate(n=Count("pk")).order_by()),
        "calls_by_outcome": dict(calls.exclude(outcome="").values_list("outcome").annotate(n=Count("pk")).order_by()),
        "targets_by_state": dict(
            CampaignTarget.objects.filter(campaign_id=campaign_id)
            .values_list("state")
            .annotate(n=Count("pk"))
            .order_by()
        ),
    }


# ---- the summary ------------------------------------------------------------------------------------------


def series_of(row: dict) -> dict[str, float]:
    """The numbers of one sample, flat: `worker.rss_mib`, `postgres.backends`, `postgres.worker`, `calls.placed`…"""
    flat: dict[str, float] = {}
    for group in ("web", "worker", "dialer", "beat", "redis-server"):
        for key in ("processes", "rss_mib", "pss_mib", "fds"):
            if group in row:
                flat[f"{group}.{key}"] = row[group][key]
    if "postgres" in row:
        flat["postgres.backends"] = row["postgres"]["backends"]
        for application in (*campaign_stack.PROCESSES, *row["postgres"]["by_application"]):
            flat[f"postgres.{application}"] = row["postgres"]["by_application"].get(application, 0)  # 0: none open
    for key in ("used_memory_mib", "connected_clients", "keys"):
        if key in row.get("redis", {}):
            flat[f"redis.{key}"] = row["redis"][key]
    for key in ("placed", "ended", "open"):
        if key in row.get("calls", {}):
            flat[f"calls.{key}"] = row["calls"][key]
    flat["errors"] = sum(row.get("errors", {}).values())
    return flat


def per_hour_slope(points: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of value over minutes, per hour; None with fewer than three points."""
    if len(points) < 3 or len({m for m, _ in points}) < 2:
        return None
    slope, _ = statistics.linear_regression([m for m, _ in points], [v for _, v in points])
    return round(60 * slope, 2)


def summarise(rows: list[dict], warm_up_minutes: float) -> dict:
    flat = [(row["minute"], series_of(row)) for row in rows]
    names = sorted({name for _, values in flat for name in values})
    middle = flat[len(flat) // 2]
    series: dict[str, dict] = {}
    for name in names:
        points = [(minute, values[name]) for minute, values in flat if name in values]
        warm = [(m, v) for m, v in points if m >= warm_up_minutes]
        series[name] = {
            "start": points[0][1],
            "middle": middle[1].get(name),
            "end": points[-1][1],
            "peak": max(v for _, v in points),
            f"at_minute_{warm_up_minutes:g}": warm[0][1] if warm else None,
            "slope_per_hour_after_warm_up": per_hour_slope(warm),
        }
    leaders: dict[str, list[int]] = {}
    pids_seen: dict[str, set[int]] = {}
    for row in rows:
        for group in ("web", "worker", "dialer", "beat", "redis-server"):
            if group not in row:
                continue
            seen = leaders.setdefault(group, [])
            if row[group]["leader"] not in seen:
                seen.append(row[group]["leader"])  # a second leader: the process died and was started again
            pids_seen.setdefault(group, set()).update(row[group]["pids"])
    placed = [values.get("calls.placed", 0) for _, values in flat[1:]]
    return {
        "samples": len(rows),
        "minutes": rows[-1]["minute"] if rows else 0,
        "first_sample": rows[0]["at"] if rows else None,
        "last_sample": rows[-1]["at"] if rows else None,
        "middle_minute": middle[0],
        "load_average_range": [
            min(row["load_average"][0] for row in rows),
            max(row["load_average"][0] for row in rows),
        ],
        "calls_placed": sum(values.get("calls.placed", 0) for _, values in flat),
        "minutes_without_a_call_placed": sum(1 for n in placed if n == 0),
        "error_lines": sum(values.get("errors", 0) for _, values in flat),
        "sample_errors": [row["sample_error"] for row in rows if "sample_error" in row],
        "group_leader_pids_seen": leaders,
        "group_pids_seen": {group: len(pids) for group, pids in pids_seen.items()},  # pool children replaced
        "series": series,
    }


def read_samples(path: Path) -> list[dict]:
    """The samples file's rows taken while the campaign ran (not the one after the drain)."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [row for row in rows if not row.get("after_drain")]


def write_summary(summary: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2, default=str) + "\n")


def print_table(summary: dict) -> None:
    print("| series | start | middle | end | peak | slope/hour after warm-up |")
    print("|---|---|---|---|---|---|")
    for name, s in summary["series"].items():
        slope = s["slope_per_hour_after_warm_up"]
        print(f"| {name} | {s['start']} | {s['middle']} | {s['end']} | {s['peak']} | {slope} |")


def stop_soak(signum: int, frame: object) -> None:
    raise SystemExit(f"soak: stopped by signal {signum}; the stack is being stopped")


# ---- the run ----------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak_campaign", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=120.0)
    parser.add_argument("--sample-seconds", type=float, default=60.0)
    parser.add_argument("--warm-up-minutes", type=float, default=10.0)
    parser.add_argument("--summarise", action="store_true", help="summarise the samples file again, run nothing")
    parser.add_argument("--label", default=DEFAULT_LABEL, help="names the run's samples, logs and results")
    parser.add_argument("--trace-web", action="store_true", help="web's objects counted and traced (bench/traced.py)")
    args = parser.parse_args(argv)
    outputs = Outputs(args.label)
    if args.summarise:
        summary = summarise(read_samples(outputs.samples), args.warm_up_minutes) | {"partial": True}
        write_summary(summary, outputs.results)
        print_table(summary)
        return 0
    config = StackConfig.from_env("soak", redis_port=6391, web_port=8391, logs=outputs.logs)
    if args.trace_web:
        config = dataclasses.replace(config, trace_web_to=BASE_DIR / "var" / f"{args.label}-tracemalloc")
    # Started in the background (`nohup … &`), this process ignores SIGINT: both signals end the soak
    # through the `with` below, so the stack is stopped and not left running.
    for stop in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop, stop_soak)
    os.environ["PGAPPNAME"] = SAMPLER_APP  # the stack's processes get their own names (Stack.start)
    outputs.samples.parent.mkdir(parents=True, exist_ok=True)
    outputs.samples.unlink(missing_ok=True)
    with campaign_stack.running_stack(config) as (stack, redis_server):
        campaign_id = campaign_stack.launch_campaign(
            "Soak campaign", campaign_stack.fictional_phones(0, FIRST_CONTACTS), CONCURRENCY
        )
        launched = db_now()
        first = campaign_stack.wait_for(
            lambda: heard_call_placed_after(campaign_id, launched), "a first call heard", 120
        )
        print(f"soak: stack up, campaign {campaign_id} dialling ({first:.1f} s to a heard call)", flush=True)
        soak = Soak(stack, redis_server, config, campaign_id, outputs.samples)
        deadline = soak.started + args.minutes * 60
        next_at = soak.started
        while True:
            row = soak.sample()
            print(
                f"soak: minute {row['minute']}: calls {row.get('calls')}, backends"
                f" {row.get('postgres', {}).get('backends')}, errors {row['errors'] or 0}",
                flush=True,
            )
            next_at += args.sample_seconds
            if next_at > deadline + 1:
                break
            time.sleep(max(0.0, next_at - time.monotonic()))  # the sampling period, not a wait for a result
        drain(stack, campaign_id, short=False)
        checks = [FaultRow("soak")]
        score(checks, campaign_id)
        after_drain = soak.sample(after_drain=True)
        outcomes = outcome_counts(campaign_id)
    summary = summarise(soak.rows[:-1], args.warm_up_minutes) | {
        "partial": False,
        "duplicates": checks[0].duplicates,
        "lost": checks[0].lost,
        "stuck": checks[0].stuck,
        "outside_window": checks[0].outside_window,
        "restarts": soak.restarts,
        "contacts": FIRST_CONTACTS + soak.contacts_added,
        "after_drain": {k: after_drain.get(k) for k in ("postgres", "redis", "calls")},
        "first_error_lines": soak.logs.first_lines,
        **outcomes,
    }
    write_summary(summary, outputs.results)
    print_table(summary)
    failed = bool(soak.restarts or summary["duplicates"] or summary["lost"] or summary["stuck"])
    print(
        f"soak: {summary['calls_placed']} calls placed in {summary['minutes']} min; duplicates"
        f" {summary['duplicates']}, lost {summary['lost']}, stuck {summary['stuck']}, restarts"
        f" {len(soak.restarts)}, error lines {summary['error_lines']}: {'FAILED' if failed else 'ok'}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
