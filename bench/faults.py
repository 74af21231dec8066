"""The fault suite: `make faults` (`python -m bench.faults [--short]`).

It starts the production-shaped stack itself (`bench/campaign_stack.py`) — web (`config.server`), the Celery
worker, the dialer (a one-process worker on the `dialer` queue) and beat, on PostgreSQL and Redis — runs a
campaign on the simulated carrier, and does to it what a new user's production suffers, one fault at a time:

- `kill -9` of the dialer during its claim (its transaction open) and just after its commit (a call
  queued a moment ago, its `place_call` maybe not yet published);
- `kill -9` of the worker (its whole process group: the pool children carry the simulated calls) with
  calls in progress;
- `kill -9` of beat, and of web (calls ringing and talking lose their TwiML, media and callbacks);
- Redis down 15 s and back *empty* (its own `redis-server`, started by the suite: queued tasks, the
  carrier's heartbeats and the CPS bucket all gone);
- every application connection to PostgreSQL terminated (`pg_terminate_backend`, on the suite's own
  database only).

A killed process is started again a second later, as a supervisor would. Then it prints a table, one row
per fault (its window runs to the next fault), each of which must be 0:

- duplicates: a target with two calls placed at once, or dialled again after it was done;
- lost: a target left `in_progress` with no open call once everything has settled;
- stuck: a call still open at the end (after the reaper's and the settlement sweep's time);
- outside-window: a call placed when the callee's local time was outside the campaign's window or days;
- slots leaked: calls open at the fault still open 30 s later (each holds a concurrency slot);

and the recovery time: from the fault (from Redis's return for the outage) to the first call placed
after it whose callee heard the agent (bounded: under 30 s). `--short` (CI: `.ci/run`) kills the worker
and the dialer together, calls in progress, on a small campaign: about a minute and a half. The suite owns
its database (dropped and created at each run, so its name must end in `faults`: `FAULTS_DATABASE_URL`,
default `postgres://postgres@127.0.0.1:5432/callwright_faults`), its Redis (`FAULTS_REDIS_PORT`, 6390) and
its web port (`FAULTS_WEB_PORT`, 8390); it never touches another database or Redis. Results: stdout and
`bench/results/faults.json`. Exit code 1 if a number is not 0 or a recovery is 30 s or more.
"""

import argparse
import datetime
import itertools
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from bench.campaign_stack import (
    BASE_DIR,
    Stack,
    StackConfig,
    fictional_phones,
    launch_campaign,
    running_stack,
    wait_for,
)

RESULTS = BASE_DIR / "bench" / "results" / "faults.json"
LOGS = BASE_DIR / "var" / "faults"
RECOVERY_LIMIT_S = 30.0


@dataclass
class FaultRow:
    fault: str
    at: float = 0.0  # monotonic
    at_wall: str = ""
    recovery_s: float | None = None
    slots_leaked: int = 0
    duplicates: int = 0
    lost: int = 0
    stuck: int = 0
    outside_window: int = 0
    note: str = ""
    window_start: datetime.datetime | None = field(default=None, repr=False)


# ---- what the database says ----------------------------------------------------------------------------


def db_now() -> datetime.datetime:
    from django.utils import timezone

    return timezone.now()


def open_calls(campaign_id: int) -> int:
    from calls.models import Call

    return Call.objects.filter(campaign_id=campaign_id).open().count()


def in_progress_calls(campaign_id: int) -> int:
    from calls.models import Call, CallStatus

    return Call.objects.filter(campaign_id=campaign_id, status=CallStatus.IN_PROGRESS).count()


def heard_call_placed_after(campaign_id: int, moment: datetime.datetime) -> bool:
    """Whether a call placed after `moment` has reached a callee who heard the agent (the stack works again)."""
    from calls.models import Call
    from calls.selectors import callee_heard_agent

    return (
        Call.objects.filter(campaign_id=campaign_id, started_at__gt=moment)
        .annotate(heard=callee_heard_agent())
        .filter(heard=True)
        .exists()
    )


def close_connection() -> None:
    from django.db import connection

    connection.close()


def claim_in_flight(database: str) -> bool:
    """Whether the dialer is inside a claim: a transaction touching campaign targets is open right now."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
            " AND state IN ('active', 'idle in transaction') AND query ILIKE %s",
            [database, "%campaigns_campaigntarget%"],
        )
        return cursor.fetchone()[0] > 0


def call_queued_just_now(campaign_id: int) -> bool:
    from calls.models import Call, CallStatus

    recent = db_now() - datetime.timedelta(milliseconds=300)
    return Call.objects.filter(campaign_id=campaign_id, status=CallStatus.QUEUED, created_at__gte=recent).exists()


def terminate_app_connections(database: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
            [database],
        )
        return cursor.fetchone()[0]


def window_of(rows: list[FaultRow], moment: datetime.datetime | None) -> FaultRow:
    """The fault whose window holds `moment` (the baseline row before the first fault)."""
    chosen = rows[0]
    for row in rows:
        if row.window_start is not None and moment is not None and moment >= row.window_start:
            chosen = row
    return chosen


def score(rows: list[FaultRow], campaign_id: int) -> None:
    """duplicates, lost, stuck and outside-window, each charged to the fault whose window the call began in."""
    from zoneinfo import ZoneInfo

    from calls.models import Call, CallStatus
    from calls.selectors import callee_heard_agent
    from campaigns.calling_hours import CallingWindow, is_open_in_zone
    from campaigns.models import Campaign, CampaignTarget

    campaign = Campaign.objects.get(pk=campaign_id)
    window = CallingWindow.clamped(campaign.window_start, campaign.window_end, campaign.days_of_week)
    calls = list(
        Call.objects.filter(campaign_id=campaign_id)
        .annotate(heard=callee_heard_agent())
        .order_by("created_at")
        .values("pk", "target_id", "status", "created_at", "started_at", "ended_at", "heard", "contact__time_zone")
    )
    by_target: dict[int, list[dict]] = {}
    for call in calls:
        by_target.setdefault(call["target_id"], []).append(call)
        if call["ended_at"] is None:
            window_of(rows, call["created_at"]).stuck += 1
        placed_at = call["started_at"]
        if placed_at is not None and not is_open_in_zone(placed_at, window, ZoneInfo(call["contact__time_zone"])):
            window_of(rows, call["started_at"]).outside_window += 1
    done = set(
        CampaignTarget.objects.filter(campaign_id=campaign_id, state=CampaignTarget.State.DONE).values_list(
            "pk", flat=True
        )
    )
    for target_id, target_calls in by_target.items():
        placed = sorted((c for c in target_calls if c["started_at"] is not None), key=lambda c: c["started_at"])
        for earlier, later in itertools.pairwise(placed):
            if earlier["ended_at"] is None or later["started_at"] < earlier["ended_at"]:
                window_of(rows, later["started_at"]).duplicates += 1  # two calls to one person at once
        if target_id in done:  # dialled again after a call the callee heard
            heard = [c for c in placed if c["status"] == CallStatus.COMPLETED and c["heard"]]
            if heard:
                window_of(rows, heard[0]["started_at"]).duplicates += sum(
                    1 for c in placed if c["started_at"] > heard[0]["ended_at"]
                )
    stranded = CampaignTarget.objects.filter(campaign_id=campaign_id, state=CampaignTarget.State.IN_PROGRESS)
    for target_id in stranded.values_list("pk", flat=True):
        target_calls = by_target.get(target_id, [])
        if all(call["ended_at"] is not None for call in target_calls):
            window_of(rows, target_calls[-1]["created_at"] if target_calls else None).lost += 1


# ---- the run ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="CI's short form: the two worker faults, ~1 minute")
    args = parser.parse_args(argv)
    config = StackConfig.from_env("faults", redis_port=6390, web_port=8390, logs=LOGS)
    database = config.database
    size, concurrency = (100, 10) if args.short else (1000, 20)
    # The baseline's "recovery" is the start-up: from launching the campaign to the first call heard.
    rows: list[FaultRow] = [FaultRow("none (start-up, baseline)", at=time.monotonic(), window_start=None)]
    started = time.monotonic()
    with running_stack(config) as (stack, redis_server):
        campaign_id = launch_campaign("Fault suite", fictional_phones(0, size), concurrency)
        launched = db_now()
        rows[0].recovery_s = wait_for(lambda: heard_call_placed_after(campaign_id, launched), "a first call", 90)
        print(f"faults: stack up, campaign {campaign_id} dialling ({rows[0].recovery_s:.1f} s to a heard call)")

        def fault(name: str, action: Callable[[], str], *, precondition: Callable[[], bool] | None = None) -> None:
            if precondition is not None:
                try:
                    wait_for(precondition, f"the moment for '{name}'", 60, poll=0.01)
                    note = ""
                except SystemExit:
                    note = "moment not caught: done anyway"
            else:
                note = ""
            row = FaultRow(name, at=time.monotonic(), at_wall=time.strftime("%H:%M:%S"), window_start=db_now())
            rows.append(row)
            open_before = set(_open_call_ids(campaign_id))
            recovered_from = db_now()
            row.note = "; ".join(filter(None, [note, action()]))
            if name.startswith("redis"):
                recovered_from = db_now()
                row.at = time.monotonic()
            close_connection()
            try:
                wait_for(lambda: heard_call_placed_after(campaign_id, recovered_from), f"recovery from {name}", 90, 0.2)
                row.recovery_s = time.monotonic() - row.at
            except SystemExit:
                row.recovery_s = None
            left = RECOVERY_LIMIT_S - (time.monotonic() - row.at)
            if left > 0:
                time.sleep(left)  # the bound: every call open at the fault should be closed by now
            row.slots_leaked = len(open_before & set(_open_call_ids(campaign_id)))
            print(f"faults: {name}: recovery {row.recovery_s} s, slots leaked {row.slots_leaked} {row.note}")

        def kill_and_restart(*names: str) -> Callable[[], str]:
            def action() -> str:
                for name in names:
                    stack.kill(name)
                time.sleep(1)  # as a supervisor's first backoff
                for name in names:
                    stack.start(name)
                return ""

            return action

        def with_calls_in_progress(count: int) -> Callable[[], bool]:
            return lambda: in_progress_calls(campaign_id) >= count

        if args.short:
            fault("kill -9 worker and dialer, calls in progress", kill_and_restart("worker", "dialer"),
                  precondition=with_calls_in_progress(max(3, concurrency // 2)))  # fmt: skip
        else:
            fault("kill -9 dialer during its claim", kill_and_restart("dialer"),
                  precondition=lambda: claim_in_flight(database))  # fmt: skip
            fault("kill -9 dialer after its commit", kill_and_restart("dialer"),
                  precondition=lambda: call_queued_just_now(campaign_id))  # fmt: skip
            fault("kill -9 worker, calls in progress", kill_and_restart("worker"),
                  precondition=with_calls_in_progress(concurrency // 2))  # fmt: skip
            fault("kill -9 worker, more calls in progress", kill_and_restart("worker"),
                  precondition=with_calls_in_progress(concurrency - 4))  # fmt: skip
            fault("kill -9 beat", kill_and_restart("beat"))
            fault("kill -9 web, calls in progress", kill_and_restart("web"),
                  precondition=with_calls_in_progress(concurrency // 2))  # fmt: skip

            def redis_outage() -> str:
                redis_server.kill()
                time.sleep(15)
                redis_server.start()
                return "down 15 s, back empty"

            fault("redis down 15 s, back empty", redis_outage)
            for round_ in (1, 2):
                fault(f"postgresql connections terminated ({round_})",
                      lambda: f"{terminate_app_connections(database)} sessions")  # fmt: skip
        drain(stack, campaign_id, args.short)
        score(rows, campaign_id)
    return report(rows, time.monotonic() - started, args.short)


def _open_call_ids(campaign_id: int) -> list[str]:
    from calls.models import Call

    return [str(pk) for pk in Call.objects.filter(campaign_id=campaign_id).open().values_list("pk", flat=True)]


def drain(stack: Stack, campaign_id: int, short: bool) -> None:
    """No new dials; let open calls end (or be reaped) and every settlement land (the straggler sweep's time)."""
    from campaigns.models import CampaignTarget
    from campaigns.services.lifecycle import campaign_pause

    campaign_pause(campaign_id=campaign_id)
    close_connection()
    with_grace = 60
    try:
        wait_for(lambda: open_calls(campaign_id) == 0, "open calls to end", 60, 0.5)
        wait_for(
            lambda: (
                not CampaignTarget.objects.filter(
                    campaign_id=campaign_id, state=CampaignTarget.State.IN_PROGRESS
                ).exists()
            ),
            "every target to settle",
            with_grace,
            1.0,
        )
    except SystemExit as stopped:
        print(stopped)


def report(rows: list[FaultRow], seconds: float, short: bool) -> int:
    header = "| fault | duplicates | lost | stuck | outside window | recovery s | slots leaked |"
    lines = [header, "|---|---|---|---|---|---|---|"]
    failed = False
    for row in rows:
        recovery = "-" if row.recovery_s is None else f"{row.recovery_s:.1f}"
        lines.append(
            f"| {row.fault} | {row.duplicates} | {row.lost} | {row.stuck} | {row.outside_window} | {recovery} |"
            f" {row.slots_leaked} |"
        )
        bad = row.duplicates or row.lost or row.stuck or row.outside_window or row.slots_leaked
        slow = row is not rows[0] and (row.recovery_s is None or row.recovery_s >= RECOVERY_LIMIT_S)
        failed = failed or bool(bad) or slow
    print("\n".join(lines))
    print(f"faults: {'FAILED' if failed else 'all 0, every recovery under 30 s'} ({seconds:.0f} s)")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    if not short:
        payload = {
            "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "seconds": round(seconds),
            "rows": [{k: v for k, v in asdict(row).items() if k not in ("at", "window_start")} for row in rows],
            "table": lines,
        }
        RESULTS.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
