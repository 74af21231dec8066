"""Status callbacks/s with signature check, dedupe and state update, on PostgreSQL, served by uvicorn.

One uvicorn process (config.server, pinned to core 0) serves the project's ASGI application on PostgreSQL
(BENCH_DATABASE_URL); the load comes from a separate process pinned to core 1 over loopback,
Twilio-shaped signed form bodies, 16 requests in flight. Measured in the same run:
- ours at saturation (closed loop) → callbacks/s, beside an empty Django view on the same server
  (Django's ceiling here), the same work done minimally through Django and on the webhooks' own short
  ASGI path (this work's ceiling as the product serves it), and a bare ASGI app (the server's ceiling);
- ours at fixed offered rates (open loop, latency from each request's scheduled time) → p99: at the
  target's 500/s, and at 70% of our own saturation (at most 300/s), beside the empty view at that rate;
- a 10× replay: every callback of 300 calls sent ten times, shuffled, then the duplicate CallEvents
  in the database are counted (the target is none) and every call must end completed.
Each throughput/latency figure is the median of 3 runs on fresh calls.
"""

import json
import os
import random
import subprocess
import sys
import tempfile
import urllib.parse

from bench.harness import DEFAULT_BENCH_DATABASE_URL, Figure, median, percentile, write_result
from bench.servers import ROOT, ensure_database, measured, pinned, start_server, stop_server
from config.server import reserve

REPEATS = 3
SECONDS = 8.0
CONCURRENCY = 16
REPLAY_CALLS = 300
TARGET_RATE = 500
LIFECYCLE = ("initiated", "ringing", "in-progress", "completed")


def load(
    port: int, requests: list[tuple[str, str, str]], *, mode: str, rate: float = 0.0, seconds: float = SECONDS
) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as handle:
        for request in requests:
            handle.write(json.dumps(request) + "\n")
    try:
        output = subprocess.run(
            [
                *pinned(1),
                sys.executable,
                "-m",
                "bench.webhooks_load",
                f"--port={port}",
                f"--requests={handle.name}",
                f"--mode={mode}",
                f"--seconds={seconds}",
                f"--concurrency={CONCURRENCY}",
                f"--rate={rate}",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(handle.name)
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


def main() -> None:
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_BENCH_DATABASE_URL)
    ensure_database(database_url)
    reserved = reserve()
    port = reserved.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "bench.webhooks_settings",
        "DATABASE_URL": database_url,
        "PUBLIC_BASE_URL": base,
        "TELEPHONY_PROVIDER": "simulated",
        "DJANGO_DEBUG": "False",
        # Production's broker: a terminal callback enqueues the campaign's settle task on Redis.
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13"),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    os.environ.update(env)
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    from calls.models import CallEvent

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE calls_callevent, calls_transcriptturn, calls_call CASCADE")
    rate_probe = 700 * SECONDS * 1.5  # callbacks enough for 8 s at 700/s: fresh calls for every measured one
    calls = Calls(int(REPEATS * rate_probe / 4 * 4 + REPEATS * TARGET_RATE * SECONDS / 4 + REPLAY_CALLS + 1500))
    token = settings.SIMULATED_CARRIER_AUTH_TOKEN
    server = start_server(reserved, env)
    results: dict[str, list] = {
        "ours": [],
        "empty": [],
        "ours_open": [],
        "ours_target_rate": [],
        "empty_open": [],
        "bare": [],
        "ours_cpu": [],
        "empty_cpu": [],
        "minimal": [],
        "minimal_cpu": [],
        "minimal_short": [],
        "minimal_short_cpu": [],
    }
    errors = 0
    try:
        load(port, interleaved(status_callbacks(base, calls.take(150), token)), mode="closed")  # warm up
        for _ in range(REPEATS):
            # Ours, then the same work minimally through Django and on the short path, each on fresh calls.
            for key, prefix in (("ours", "/twilio/status/"), ("minimal", "/bench/minimal/"),
                                ("minimal_short", "/twilio/bench-minimal/")):  # fmt: skip
                requests = interleaved(status_callbacks(base, calls.take(int(rate_probe / 4)), token, prefix=prefix))
                result, cpu = measured(server, lambda requests=requests: load(port, requests, mode="closed"))
                errors += sum(n for s, n in result["statuses"].items() if s != "204")
                results[key].append(throughput(result))
                results[f"{key}_cpu"].append(cpu)
            body = requests[0][1]
            empty, cpu = measured(server, lambda body=body: load(port, empty_requests(10_000, body), mode="closed"))
            results["empty"].append(throughput(empty))
            results["empty_cpu"].append(cpu)
        rate = round(min(300.0, 0.7 * median(results["ours"])))
        for _ in range(REPEATS):
            requests = interleaved(status_callbacks(base, calls.take(int(rate * SECONDS / 4) + 1), token))
            result = load(port, requests, mode="open", rate=rate)
            errors += sum(n for s, n in result["statuses"].items() if s != "204")
            results["ours_open"].append(percentile(result["latencies"], 99) * 1000)
            empty = load(port, empty_requests(int(rate * SECONDS), requests[0][1]), mode="open", rate=rate)
            results["empty_open"].append(percentile(empty["latencies"], 99) * 1000)
            requests = interleaved(status_callbacks(base, calls.take(int(TARGET_RATE * SECONDS / 4) + 1), token))
            result = load(port, requests, mode="open", rate=TARGET_RATE)
            errors += sum(n for s, n in result["statuses"].items() if s != "204")
            results["ours_target_rate"].append(percentile(result["latencies"], 99) * 1000)
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
    reserved = reserve()
    bare_port = reserved.getsockname()[1]
    bare = start_server(reserved, env, "bench.bare_asgi:served")
    try:
        for _ in range(REPEATS):
            results["bare"].append(throughput(load(bare_port, empty_requests(60_000, "a=b"), mode="closed")))
    finally:
        stop_server(bare)

    ours = median(results["ours"])
    ceilings = (
        ("minimal", "status callbacks/s vs the same work done minimally (raw SQL, no checks) through Django",
         "minimal same-work Django view, same uvicorn"),
        ("minimal_short", "status callbacks/s vs the same work done minimally on the same short ASGI path",
         "minimal same-work view, short path"),
        ("bare", "status callbacks/s vs a bare ASGI app", "bare ASGI app on uvicorn"),
    )  # fmt: skip
    figures = [
        Figure(
            metric="status callbacks/s at saturation (one uvicorn process)",
            unit="req/s",
            ours=ours,
            samples=results["ours"],
            peer_name="empty Django view, same uvicorn",
            peer=median(results["empty"]),
            target="≥ 500",
            met=ours >= 500,
        ),
        *(
            Figure(
                metric=metric, unit="req/s", ours=ours, samples=results["ours"], peer_name=peer, peer=median(results[k])
            )
            for k, metric, peer in ceilings
        ),
        Figure(
            metric="uvicorn CPU per status callback",
            unit="ms",
            ours=median(results["ours_cpu"]),
            samples=results["ours_cpu"],
            peer_name="empty Django view, same uvicorn",
            peer=median(results["empty_cpu"]),
            higher_is_better=False,
        ),
        Figure(
            metric="callbacks/s one process can serve on a whole core (1000 / CPU ms per callback)",
            unit="req/s",
            ours=1000 / median(results["ours_cpu"]),
            samples=[1000 / x for x in results["ours_cpu"]],
            peer_name="minimal same-work view, short path",
            peer=1000 / median(results["minimal_short_cpu"]),
            target="≥ 500",
            met=1000 / median(results["ours_cpu"]) >= 500,
        ),
        Figure(
            metric=f"p99 latency at {TARGET_RATE} callbacks/s offered, the target rate (open loop)",
            unit="ms",
            ours=median(results["ours_target_rate"]),
            samples=results["ours_target_rate"],
            target="< 50",
            met=median(results["ours_target_rate"]) < 50,
            higher_is_better=False,
        ),
        Figure(
            metric=f"p99 latency at {rate} callbacks/s offered (open loop)",
            unit="ms",
            ours=median(results["ours_open"]),
            samples=results["ours_open"],
            peer_name="empty Django view, same rate",
            peer=median(results["empty_open"]),
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
    notes = (
        f"uvicorn pinned to core 0, load generator to core 1, {CONCURRENCY} in flight; PostgreSQL and whatever "
        "else runs on the machine share both cores. Each callback: X-Twilio-Signature check (RequestValidator), "
        "then one statement, bound server-side: the event's INSERT … ON CONFLICT DO NOTHING as a CTE ahead of the "
        "call's conditional UPDATE (plus a SELECT only when the UPDATE moved nothing). "
        f"Samples — ours {[round(x) for x in results['ours']]}, empty view {[round(x) for x in results['empty']]}, "
        f"minimal same-work view {[round(x) for x in results['minimal']]} (through Django), "
        f"{[round(x) for x in results['minimal_short']]} (short path), "
        f"bare ASGI {[round(x) for x in results['bare']]} req/s; open-loop p99 ours "
        f"{[round(x, 1) for x in results['ours_open']]}, empty view {[round(x, 1) for x in results['empty_open']]} ms "
        f"at {rate}/s; ours {[round(x, 1) for x in results['ours_target_rate']]} ms at {TARGET_RATE}/s. "
        f"uvicorn CPU ms/request — ours {[round(x, 2) for x in results['ours_cpu']]}, empty view "
        f"{[round(x, 2) for x in results['empty_cpu']]}, minimal same-work view "
        f"{[round(x, 2) for x in results['minimal_cpu']]} (through Django), "
        f"{[round(x, 2) for x in results['minimal_short_cpu']]} (short path) (PostgreSQL's own CPU is not included). "
        f"Replay: {stored} events stored for {len(replay_ids)} calls × 4 distinct callbacks, {not_completed} calls "
        f"not completed; non-204 answers during measured runs: {errors}."
    )
    path = write_result("webhooks", "Twilio status webhooks", figures, notes)
    print(path.read_text())


if __name__ == "__main__":
    main()
