"""The live board's cost: 200 concurrent calls' events to 10 watching supervisors, and the event delay p95.

The project served as in production (uvicorn, one process pinned to core 0) on PostgreSQL, with the Redis
channel layer; ten supervisors' browsers are ten WebSocket clients on `/ws/calls/live/` (session cookies,
same origin). A publisher in this process plays the events of `CALLS` concurrent calls onto the `calls.live`
group exactly as the conversation hosts and webhooks publish them after storing: per call a turn every
`TURN_EVERY_S` and a status snapshot every `STATUS_EVERY_S`, spread evenly. Measured over `SECONDS`:
- the server process's CPU (user + system) as a share of one core, with the ten supervisors watching,
  beside the same load with nobody watching (the server then receives nothing: its idle cost);
- the event delay, from each turn's publication (its text carries the time) to its arrival in a supervisor's
  socket, coalescing wait included: p95 over every supervisor and turn.
Median of `REPEATS` runs. Run: `BENCH_DATABASE_URL=postgres://… BENCH_REDIS_URL=redis://… make bench ONLY=live_board`.
"""

import asyncio
import json
import os
import socket
import time

from bench.harness import DEFAULT_BENCH_DATABASE_URL, Figure, median, percentile, write_result
from bench.servers import cpu_seconds, start_server, stop_server
from config.server import reserve

CALLS = 200
SUPERVISORS = 10
SECONDS = 20.0
REPEATS = 3
TURN_EVERY_S = 3.0
STATUS_EVERY_S = 30.0
TARGET_CORE_SHARE = 5.0  # % of one core
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3")
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", DEFAULT_BENCH_DATABASE_URL)


def supervisor_cookie() -> str:
    from django.conf import settings
    from django.contrib.auth.models import Group, User
    from django.test import Client

    user, _ = User.objects.get_or_create(username="bench-supervisor", defaults={"is_staff": True})
    user.groups.add(Group.objects.get(name="supervisor"))
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


async def publish(stop_at: float) -> int:
    """The calls' events, evenly spread, until `stop_at`; how many were published."""
    from channels.layers import get_channel_layer

    from calls.live_events import LIVE_CALLS_GROUP, event_message

    layer = get_channel_layer()
    calls = [f"00000000-0000-0000-0000-{n:012d}" for n in range(CALLS)]
    per_second = CALLS / TURN_EVERY_S + CALLS / STATUS_EVERY_S
    loop = asyncio.get_running_loop()
    started, sent = loop.time(), 0
    while loop.time() < stop_at:
        call = calls[sent % CALLS]
        if sent % round(STATUS_EVERY_S / TURN_EVERY_S + 1) == 0:
            event = {"kind": "status", "status": "in_progress", "phone": "+***0143", "campaign": 1, "agent": 1,
                     "started_at": None, "answered_at": None, "ended_at": None}  # fmt: skip
        else:
            event = {"kind": "turn", "index": sent, "role": "contact", "text": f"t={time.time()}", "interrupted": False}
        await layer.group_send(LIVE_CALLS_GROUP, event_message(call, event))
        sent += 1
        await asyncio.sleep(max(0.0, started + sent / per_second - loop.time()))
    return sent


async def watch(url: str, cookie: str, delays: list[float], ready: asyncio.Event, stop_at: float) -> int:
    import websockets

    messages = 0
    async with websockets.connect(url, additional_headers={"Cookie": cookie, "Origin": "http://127.0.0.1"}) as ws:
        ready.set()
        while (left := stop_at - time.monotonic()) > 0:
            try:
                raw = await asyncio.wait_for(ws.recv(), timeout=left)
            except TimeoutError:
                break
            messages += 1
            now = time.time()
            for patch in json.loads(raw).get("calls", {}).values():
                text = (patch.get("last_utterance") or {}).get("text", "")
                if text.startswith("t="):
                    delays.append((now - float(text[2:])) * 1000)
    return messages


async def one_run(port: int, cookie: str, server_pid: int, *, supervisors: int) -> dict:
    delays: list[float] = []
    readies = [asyncio.Event() for _ in range(supervisors)]
    stop_at = time.monotonic() + SECONDS + 2
    watchers = [asyncio.create_task(watch(f"ws://127.0.0.1:{port}/ws/calls/live/", cookie, delays, ready, stop_at))
                for ready in readies]  # fmt: skip
    for ready in readies:
        await ready.wait()
    loop = asyncio.get_running_loop()
    publisher = asyncio.create_task(publish(loop.time() + SECONDS + 1))
    await asyncio.sleep(1)  # the first second (connections settling) is not measured
    before, began = cpu_seconds(server_pid), time.monotonic()
    await asyncio.sleep(SECONDS - 1)
    cpu, elapsed = cpu_seconds(server_pid) - before, time.monotonic() - began
    published = await publisher
    messages = sum(await asyncio.gather(*watchers))
    return {"core_share": 100 * cpu / elapsed, "delays": delays, "published": published, "messages": messages}


def main() -> None:
    from bench.django_setup import setup_django

    os.environ["BENCH_DATABASE_URL"] = DATABASE_URL
    setup_django(redis_url=REDIS_URL)
    cookie = supervisor_cookie()
    reserved = reserve()
    port = reserved.getsockname()[1]
    env = os.environ | {"DATABASE_URL": DATABASE_URL, "REDIS_URL": REDIS_URL, "DJANGO_SETTINGS_MODULE":
                        "config.settings.local", "DJANGO_DEBUG": "False"}  # fmt: skip
    server = start_server(reserved, env)
    try:
        watched, idle = [], []
        for _ in range(REPEATS):
            idle.append(asyncio.run(one_run(port, cookie, server.pid, supervisors=0)))
            watched.append(asyncio.run(one_run(port, cookie, server.pid, supervisors=SUPERVISORS)))
    finally:
        stop_server(server)
        if isinstance(reserved, socket.socket):
            reserved.close()
    shares = [run["core_share"] for run in watched]
    p95s = [percentile(run["delays"], 95) for run in watched]
    events_per_s = median([run["published"] / SECONDS for run in watched])
    figures = [
        Figure(metric=f"server CPU, board of {CALLS} calls × {SUPERVISORS} supervisors", unit="% of a core",
               ours=median(shares), samples=shares, target=f"< {TARGET_CORE_SHARE:g} %",
               met=median(shares) < TARGET_CORE_SHARE, higher_is_better=False),
        Figure(metric="event delay p95 (turn published → in a supervisor's socket)", unit="ms", ours=median(p95s),
               samples=p95s, target="a call shows within 500 ms", met=median(p95s) < 500, higher_is_better=False),
    ]  # fmt: skip
    notes = (f"{events_per_s:.0f} events/s onto calls.live; the same with nobody watching: "
             f"{median([run['core_share'] for run in idle]):.2f} % of a core; messages per supervisor per second: "
             f"{median([run['messages'] / SUPERVISORS / SECONDS for run in watched]):.1f} (coalesced).")  # fmt: skip
    path = write_result("live_board", "Live board", figures, notes=notes)
    print(path.read_text())


if __name__ == "__main__":
    main()
