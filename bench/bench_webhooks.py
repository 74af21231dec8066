"""Status callbacks/s with signature check, dedupe and state update, on PostgreSQL, served by uvicorn.

One uvicorn process (uvloop, httptools; pinned to core 0) serves the project's ASGI application on
PostgreSQL (BENCH_DATABASE_URL); the load comes from a separate process pinned to core 1 over
loopback, Twilio-shaped signed form bodies, 16 requests in flight. Every view measured is a plain
Django view behind the project's whole middleware, on the same server and handler. In the same run:
- ours at saturation (closed loop) → callbacks/s, beside the minimal same-work view (bench/webhooks_urls.py:
  ORM, sync; the target is ≥ 90 % of it), the same work in raw SQL and as an async view, an empty Django
  view (Django's ceiling here) and a bare ASGI app (the server's ceiling);
- ours at the target's fixed offered rate (open loop, latency from each request's scheduled time) → p99,
  beside the minimal view at the same rate;
- a 10× replay: every callback of 300 calls sent ten times, shuffled, then the duplicate CallEvents
  in the database are counted (the target is none) and every call must end completed.
Each throughput/latency figure is the median of 3 runs on fresh calls. PostgreSQL backends over a
10-minute run are measured by `bench_webhooks_backends.py` (`make bench ONLY=webhooks_backends`).
"""

import json
import os
import random
import subprocess
import sys
import tempfile
import urllib.parse
from dataclasses import dataclass

from bench.harness import DEFAULT_BENCH_DATABASE_URL, Figure, median, percentile, write_result
from bench.servers import ROOT, ensure_database, measured, pinned, start_server, stop_server
from config.server import APP as PROJECT
from config.server import reserve

SERVER = "uvicorn"
REPEATS = 3
SECONDS = 8.0
CONCURRENCY = 16
REPLAY_CALLS = 300
TARGET_RATE = 200
PROBE_RATE = 700  # callbacks/s no view here reaches: each closed-loop run gets fresh calls for all it can send
LIFECYCLE = ("initiated", "ringing", "in-progress", "completed")
PEERS = {
    "ours": "/twilio/status/",
    "minimal": "/bench/minimal/",
    "minimal_raw": "/bench/minimal-raw/",
    "minimal_async": "/bench/minimal-async/",
}


def load_command(port: int, requests_file: str, *, mode: str, rate: float, seconds: float) -> list[str]:
    return [
        *pinned(1),
        sys.executable,
        "-m",
        "bench.webhooks_load",
        f"--port={port}",
        f"--requests={requests_file}",
        f"--mode={mode}",
        f"--seconds={seconds}",
        f"--concurrency={CONCURRENCY}",
        f"--rate={rate}",
    ]


def requests_file(requests: list[tuple[str, str, str]]) -> str:
    """The requests as JSON lines in a temporary file (the caller deletes it)."""
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as handle:
        for request in requests:
            handle.write(json.dumps(request) + "\n")
    return handle.name


def load(
    port: int, requests: list[tuple[str, str, str]], *, mode: str, rate: float = 0.0, seconds: float = SECONDS
) -> dict:
    name = requests_file(requests)
    try:
        command = load_command(port, name, mode=mode, rate=rate, seconds=seconds)
        output = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(name)
    return json.loads(output)


class Calls:
    """Fresh calls to send callbacks for, so every measured callback inserts and updates for real."""

    def __init__(self, count: int) -> None:
        from calls.models import Call
        from contacts.models import Contact

        contact, _ = Contact.objects.get_or_create(phone="+12025550143", defaults={"first_name": "Bench"})
        calls = [
            Call(contact=contact, to_phone=contact.phone, provider="simulated", provider_call_id=f"CA{i:032x}")
            for i in range(count)
        ]
        Call.objects.bulk_create(calls, batch_size=2000)
        self.ids = [(str(call.pk), call.provider_call_id) for call in calls]
        self.next = 0

    def take(self, count: int) -> list[tuple[str, str]]:
        taken = self.ids[self.next : self.next + count]
        if len(taken) < count:
            raise RuntimeError("seed more calls")
        self.next += count
        return taken


def status_callbacks(
    base: str, calls: list[tuple[str, str]], token: str, prefix: str = "/twilio/status/"
) -> list[list[tuple[str, str, str]]]:
    """Per call, its four signed status callbacks in order, as (path, body, signature)."""
    from twilio.request_validator import RequestValidator

    validator = RequestValidator(token)
    per_call = []
    for call_id, sid in calls:
        path = f"{prefix}{call_id}/"
        callbacks = []
        for sequence, status in enumerate(LIFECYCLE):
            params = {
                "AccountSid": "AC" + "0" * 32,
                "CallSid": sid,
                "CallStatus": status,
                "Direction": "outbound-api",
                "From": "+12025550100",
                "To": "+12025550143",
                "SequenceNumber": str(sequence),
                "Timestamp": "Mon, 23 Nov 2026 12:00:00 +0000",
                "CallbackSource": "call-progress-events",
            }
            if status == "completed":
                params |= {"CallDuration": "31", "AnsweredBy": "human"}
            signature = validator.compute_signature(f"{base}{path}", params)
            callbacks.append((path, urllib.parse.urlencode(params), signature))
        per_call.append(callbacks)
    return per_call


def interleaved(per_call: list[list[tuple[str, str, str]]], group: int = 200) -> list[tuple[str, str, str]]:
    """Each call's callbacks in order, spread out like concurrent calls: call batches, one status at a time."""
    ordered = []
    for start in range(0, len(per_call), group):
        batch = per_call[start : start + group]
        for index in range(len(LIFECYCLE)):
            ordered.extend(callbacks[index] for callbacks in batch)
    return ordered


def empty_requests(count: int, body: str) -> list[tuple[str, str, str]]:
    return [("/bench/empty/", body, "unsigned")] * count


def throughput(result: dict) -> float:
    return result["sent"] / result["elapsed"]


# What the callbacks are signed for (PUBLIC_BASE_URL), whatever port the server gets: the port is
# chosen only as the server starts, so no other process on the machine can take it in between.
BASE = "https://callbacks.bench.invalid"


@dataclass
class Setup:
    env: dict[str, str]
    token: str


def prepare() -> Setup:
    """Migrate and empty the benchmark database, set Django up in this process; the server's environment.

    This process keeps no pooled connection of its own (DATABASE_POOL_MAX_SIZE=0 here, not in the
    server), so `pg_stat_activity` on the database counts the server's backends and ours, one.
    """
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_BENCH_DATABASE_URL)
    ensure_database(database_url)
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "bench.webhooks_settings",
        "DATABASE_URL": database_url,
        "PUBLIC_BASE_URL": BASE,
        "TELEPHONY_PROVIDER": "simulated",
        "DJANGO_DEBUG": "False",
        # Production's broker: a terminal callback enqueues the campaign's settle task on Redis.
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13"),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    os.environ.update(env | {"DATABASE_POOL_MAX_SIZE": "0"})
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE calls_callevent, calls_transcriptturn, calls_call CASCADE")
    return Setup(env=env, token=settings.SIMULATED_CARRIER_AUTH_TOKEN)


def serve(app: str, env: dict[str, str]) -> tuple[int, subprocess.Popen]:
    """`app` (an application factory) served as in production on a port bound before it starts; port and process."""
    reserved = reserve()
    return reserved.getsockname()[1], start_server(reserved, env, app)


def main() -> None:
    setup = prepare()
    base, token = BASE, setup.token
    from calls.models import CallEvent

    per_probe = int(PROBE_RATE * SECONDS / len(LIFECYCLE))
    per_open = int(TARGET_RATE * SECONDS / len(LIFECYCLE)) + 1
    calls = Calls(150 + REPEATS * (len(PEERS) * per_probe + 2 * per_open) + REPLAY_CALLS)
    port, server = serve(PROJECT, setup.env)
    results: dict[str, list] = {key: [] for peer in (*PEERS, "empty") for key in (peer, f"{peer}_cpu")}
    results |= {"ours_open": [], "minimal_open": [], "bare": []}
    errors = 0
    try:
        load(port, interleaved(status_callbacks(base, calls.take(150), token)), mode="closed")  # warm up
        for _ in range(REPEATS):
            # Ours, then the same work minimally (ORM, raw SQL, async), each on fresh calls.
            for key, prefix in PEERS.items():
                requests = interleaved(status_callbacks(base, calls.take(per_probe), token, prefix=prefix))
                result, cpu = measured(server, lambda requests=requests: load(port, requests, mode="closed"))
                errors += sum(n for s, n in result["statuses"].items() if s != "204")
                results[key].append(throughput(result))
                results[f"{key}_cpu"].append(cpu)
            body = requests[0][1]
            empty, cpu = measured(server, lambda body=body: load(port, empty_requests(10_000, body), mode="closed"))
            results["empty"].append(throughput(empty))
            results["empty_cpu"].append(cpu)
        for _ in range(REPEATS):
            for key in ("ours", "minimal"):
                callbacks = status_callbacks(base, calls.take(per_open), token, prefix=PEERS[key])
                result = load(port, interleaved(callbacks), mode="open", rate=TARGET_RATE)
                errors += sum(n for s, n in result["statuses"].items() if s != "204")
                results[f"{key}_open"].append(percentile(result["latencies"], 99) * 1000)
        # 10× replay, shuffled: duplicates and reordering at once.
        replay_calls = calls.take(REPLAY_CALLS)
        replayed = [cb for callbacks in status_callbacks(base, replay_calls, token) for cb in callbacks] * 10
        random.Random(5).shuffle(replayed)
        replay = load(port, replayed, mode="closed", seconds=600)  # every one of them, however long
        sent_all = replay["sent"] == len(replayed)
    finally:
        stop_server(server)
    from calls.models import Call

    replay_ids = [call_id for call_id, _ in replay_calls]
    stored = CallEvent.objects.filter(call_id__in=replay_ids).count()
    duplicates = stored - len(replay_ids) * len(LIFECYCLE)
    not_completed = Call.objects.filter(pk__in=replay_ids).exclude(status="completed").count()
    bare_port, bare = serve("bench.bare_asgi:served", setup.env)
    try:
        for _ in range(REPEATS):
            results["bare"].append(throughput(load(bare_port, empty_requests(60_000, "a=b"), mode="closed")))
    finally:
        stop_server(bare)

    ours, minimal = median(results["ours"]), median(results["minimal"])
    figures = [
        Figure(
            metric=f"status callbacks/s at saturation (one {SERVER} process)",
            unit="req/s",
            ours=ours,
            samples=results["ours"],
            peer_name=f"minimal same-work Django view, same middleware, same {SERVER}",
            peer=minimal,
            target="≥ 0.90× the minimal view",
            met=ours >= 0.9 * minimal,
        ),
        Figure(
            metric="status callbacks/s vs the same minimal work in raw SQL",
            unit="req/s",
            ours=ours,
            samples=results["ours"],
            peer_name="minimal same-work view, raw SQL on connection.cursor()",
            peer=median(results["minimal_raw"]),
        ),
        Figure(
            metric="status callbacks/s vs the same minimal work as an async view",
            unit="req/s",
            ours=ours,
            samples=results["ours"],
            peer_name="minimal same-work async view",
            peer=median(results["minimal_async"]),
        ),
        Figure(
            metric="status callbacks/s vs an empty Django view",
            unit="req/s",
            ours=ours,
            samples=results["ours"],
            peer_name=f"empty Django view, same middleware, same {SERVER}",
            peer=median(results["empty"]),
        ),
        Figure(
            metric="status callbacks/s vs a bare ASGI app",
            unit="req/s",
            ours=ours,
            samples=results["ours"],
            peer_name=f"bare ASGI app on {SERVER}",
            peer=median(results["bare"]),
        ),
        Figure(
            metric=f"{SERVER} CPU per status callback",
            unit="ms",
            ours=median(results["ours_cpu"]),
            samples=results["ours_cpu"],
            peer_name="minimal same-work Django view",
            peer=median(results["minimal_cpu"]),
            higher_is_better=False,
        ),
        Figure(
            metric=f"p99 latency at {TARGET_RATE} callbacks/s offered (open loop)",
            unit="ms",
            ours=median(results["ours_open"]),
            samples=results["ours_open"],
            peer_name="minimal same-work Django view, same rate",
            peer=median(results["minimal_open"]),
            target="< 50",
            met=median(results["ours_open"]) < 50,
            higher_is_better=False,
        ),
        Figure(
            metric=f"duplicate events after a 10× shuffled replay ({len(replayed)} callbacks)",
            unit="events",
            ours=float(duplicates),
            target="0",
            met=duplicates == 0 and not_completed == 0 and sent_all,
            higher_is_better=False,
        ),
    ]

    def rounded(key: str, digits: int = 0) -> list[float]:
        return [round(x, digits or None) for x in results[key]]

    notes = (
        f"{SERVER} (uvloop, httptools) pinned to core 0, load generator to core 1, {CONCURRENCY} in flight; "
        "PostgreSQL and whatever else runs on the machine share both cores. Every view is a plain Django view "
        "behind the project's middleware. Each callback of ours: X-Twilio-Signature check, form validation, then "
        "one transaction: the call's conditional UPDATE and the event's INSERT … ON CONFLICT DO NOTHING (ORM; "
        "a SELECT only when the UPDATE moved nothing). "
        f"Samples — ours {rounded('ours')}, minimal same-work view {rounded('minimal')}, the same in raw SQL "
        f"{rounded('minimal_raw')}, as an async view {rounded('minimal_async')}, empty view {rounded('empty')}, "
        f"bare ASGI {rounded('bare')} req/s; open-loop p99 at {TARGET_RATE}/s ours {rounded('ours_open', 1)}, "
        f"minimal view {rounded('minimal_open', 1)} ms. {SERVER} CPU ms/request — ours {rounded('ours_cpu', 2)}, "
        f"minimal {rounded('minimal_cpu', 2)}, minimal raw SQL {rounded('minimal_raw_cpu', 2)}, minimal async "
        f"{rounded('minimal_async_cpu', 2)}, empty view {rounded('empty_cpu', 2)} (PostgreSQL's own CPU is not "
        "included). "
        f"Replay: {stored} events stored for {len(replay_ids)} calls × 4 distinct callbacks, {not_completed} calls "
        f"not completed; non-204 answers during measured runs: {errors}."
    )
    path = write_result("webhooks", "Twilio status webhooks", figures, notes)
    print(path.read_text())


if __name__ == "__main__":
    main()
