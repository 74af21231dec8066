"""Concurrent voice calls in one server process on one core: outbound jitter and pipeline-added latency.

The real path: one uvicorn process started as production starts it (config.server: uvloop, httptools,
websockets-sansio, one worker), pinned to core 0 (taskset → sched_setaffinity), serves the project's
ASGI app — the media-stream consumer, `ConversationSession` with its `CallConversationHost` on
PostgreSQL (BENCH_DATABASE_URL) and the Redis channel layer (BENCH_REDIS_URL) — with the simulated
STT, LLM and TTS selected by the provider settings and given fixed delays (SIMULATED_*_MS: STT 150 ms
per utterance, LLM 200 ms to the first token, TTS 100 ms to each chunk's first byte). A load generator
pinned to core 1 (bench/voice_calls_load.py) is N Twilio callers: media token in `start`, 20 ms μ-law
frames in real time, words then silence, marks echoed as the audio plays. Each caller hears the opener,
then takes TURNS turns.

Measured per N (a sweep; N = 100 is the headline):
- outbound frame-send jitter: the server's own `callwright_playout_lag_seconds` histogram, read from
  /metrics — for every frame of every call, how late it was handed to the socket against its real-time
  schedule; p50/p99 interpolated within buckets, and the exact share of frames later than 10 ms;
- pipeline-added latency per turn: the persisted TranscriptTurn breakdown; end of speech is the moment
  the endpointer declares the turn over (the configured 600 ms of silence after the last voiced frame,
  reported separately), and the figure is `first_audio_sent − 600 ms − (150 + 200 + 100) ms`;
  the callers' own view (first agent frame received − endpointing frame sent − provider delays,
  over loopback) is reported beside it;
- the ceiling: a bare asyncio process on the same core pacing N × 50 frames/s with the same `Playout`,
  each frame serialised to the same JSON and written to a socket (bench/voice_calls_ceiling.py);
- the server's ceiling: the same uvicorn serving a bare Media Streams agent (bench/voice_ceiling_asgi.py:
  parse every inbound message, speak in turns through the same `Playout`, no Django) to N duplex callers
  (`voice_calls_load --duplex`), at every N of the sweep and once more per extra headline run;
- the server's CPU share of its core (sampled over the middle half of each run), and that share per call.
The headline (N = 100) is the median of BENCH_VOICE_REPEATS runs (default 3), each beside its own
ceilings.
"""

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from bench.harness import DEFAULT_BENCH_DATABASE_URL, Figure, median, percentile, write_result
from bench.servers import cpu_seconds, ensure_database, free_port, pinned, start_server, stop_server
from config.server import reserve, wait_until_listening

ROOT = Path(__file__).resolve().parent.parent
HEADLINE = 100
HEADLINE_REPEATS = int(os.environ.get("BENCH_VOICE_REPEATS", "3"))
SWEEP = tuple(int(n) for n in os.environ.get("BENCH_VOICE_SWEEP", "50,100,150,200").split(","))
TURNS = int(os.environ.get("BENCH_VOICE_TURNS", "2"))
STT_MS, LLM_MS, TTS_MS = 150, 200, 100
SILENCE_MS = 600  # TurnTakingConfig.silence_ms, the endpointing silence
CEILING_SECONDS = float(os.environ.get("BENCH_CEILING_SECONDS", "8"))
SERVER_CEILING_SECONDS = float(os.environ.get("BENCH_SERVER_CEILING_SECONDS", "20"))
LAG = "callwright_playout_lag_seconds"


def create_calls(count: int) -> list[dict]:
    from calls.media_tokens import media_token_for
    from calls.models import Call, CallStatus
    from contacts.models import Contact

    contact, _ = Contact.objects.get_or_create(phone="+12025550144", defaults={"first_name": "Bench"})
    calls = [
        Call(contact=contact, to_phone=contact.phone, provider="simulated", status=CallStatus.IN_PROGRESS,
             provider_call_id="CA" + os.urandom(16).hex())
        for _ in range(count)
    ]  # fmt: skip
    Call.objects.bulk_create(calls)
    return [{"id": str(c.pk), "sid": c.provider_call_id, "token": media_token_for(c.pk)} for c in calls]


def lag_histogram(port: int) -> dict[float, float]:
    """Cumulative bucket counts of the playout lag histogram, from the server's /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    for family in text_string_to_metric_families(text):
        if family.name == LAG:
            return {float(s.labels["le"]): s.value for s in family.samples if s.name == f"{LAG}_bucket"}
    raise RuntimeError(f"{LAG} not in /metrics")


def quantile(buckets: dict[float, float], q: float) -> float:
    """Prometheus' histogram_quantile: linear within the bucket the rank falls in (seconds)."""
    bounds = sorted(buckets)
    total = buckets[float("inf")]
    rank, previous_bound, previous_count = q * total, 0.0, 0.0
    for bound in bounds:
        if buckets[bound] >= rank:
            if bound == float("inf"):
                return previous_bound
            share = (rank - previous_count) / max(1e-12, buckets[bound] - previous_count)
            return previous_bound + (bound - previous_bound) * share
        previous_bound, previous_count = bound, buckets[bound]
    return previous_bound


def server_turns(call_ids: list[str]) -> list[dict]:
    from calls.models import TranscriptTurn

    rows = TranscriptTurn.objects.filter(call_id__in=call_ids, role="agent", index__gt=0).values(
        "stt_final_ms", "llm_first_token_ms", "tts_first_byte_ms", "first_audio_sent_ms"
    )
    return [row for row in rows if row["first_audio_sent_ms"] is not None]


def sample_cpu(server: subprocess.Popen, samples: list[tuple[float, float]]) -> None:
    """(time, CPU seconds) of the server twice a second, until it exits."""
    while server.poll() is None:
        try:
            samples.append((time.monotonic(), cpu_seconds(server.pid)))
        except OSError:
            return
        time.sleep(0.5)


def steady_cpu_share(samples: list[tuple[float, float]]) -> float:
    """The server's CPU share of its core over the middle half of the run (every call connected and talking)."""
    if len(samples) < 8:
        return (samples[-1][1] - samples[0][1]) / max(1e-9, samples[-1][0] - samples[0][0])
    middle = samples[len(samples) // 4 : 3 * len(samples) // 4]
    return (middle[-1][1] - middle[0][1]) / (middle[-1][0] - middle[0][0])


def run_calls(count: int, env: dict[str, str]) -> dict:
    calls = create_calls(count)
    reserved = reserve()
    port = reserved.getsockname()[1]
    server = start_server(reserved, env | {"PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"})
    affinity = sorted(os.sched_getaffinity(server.pid))
    try:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            json.dump(calls, handle)
        samples: list[tuple[float, float]] = []
        sampler = threading.Thread(target=sample_cpu, args=(server, samples), daemon=True)
        sampler.start()
        profile = os.environ.get("BENCH_VOICE_PROFILE")  # a path: py-spy samples the server meanwhile
        profiler = (
            subprocess.Popen(["py-spy", "record", "--pid", str(server.pid), "-d", "25", "-f", "speedscope",
                              "-o", profile], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if profile else None
        )  # fmt: skip
        output = subprocess.run(
            [*pinned(1), sys.executable, "-m", "bench.voice_calls_load", f"--port={port}",
             f"--calls={handle.name}", f"--turns={TURNS}"],
            cwd=ROOT, capture_output=True, text=True, check=True, timeout=600,
        ).stdout  # fmt: skip
        busy = steady_cpu_share(samples)
        if profiler is not None:
            profiler.wait(timeout=60)
        buckets = lag_histogram(port)
    finally:
        os.unlink(handle.name)
        stop_server(server)
    load = json.loads(output)
    time.sleep(1.0)  # the last turns' writes
    turns = server_turns([c["id"] for c in calls])
    delays = STT_MS + LLM_MS + TTS_MS
    added = [t["first_audio_sent_ms"] - SILENCE_MS - delays for t in turns]
    client = [t["client_ms"] - delays for t in load["turns"] if t["client_ms"] is not None]
    stages = {
        "stt": [t["stt_final_ms"] - SILENCE_MS - STT_MS for t in turns if t["stt_final_ms"] is not None],
        "llm": [t["llm_first_token_ms"] - t["stt_final_ms"] - LLM_MS for t in turns if t["llm_first_token_ms"]],
        "tts": [t["tts_first_byte_ms"] - t["llm_first_token_ms"] - TTS_MS for t in turns if t["tts_first_byte_ms"]],
        "send": [t["first_audio_sent_ms"] - t["tts_first_byte_ms"] for t in turns if t["tts_first_byte_ms"]],
    }
    return {
        "calls": count,
        **jitter_summary(buckets),
        "added_p50_ms": percentile(added, 50) if added else None,
        "added_p95_ms": percentile(added, 95) if added else None,
        "client_p50_ms": percentile(client, 50) if client else None,
        "client_p95_ms": percentile(client, 95) if client else None,
        "stages_p50_ms": {stage: percentile(v, 50) for stage, v in stages.items() if v},
        "turns_expected": count * TURNS,
        "turns_persisted": len(turns),
        "turns_answered": len(client),
        "errors": load["errors"][:5],
        "error_count": len(load["errors"]),
        "server_cpu_share": busy,
        "server_affinity": affinity,
        "load_tick_lateness_ms": load["tick_lateness_ms"],
        "load_cpu_share": load["cpu_share"],
        "elapsed_s": load["elapsed_s"],
    }


def jitter_summary(buckets: dict[float, float]) -> dict[str, float]:
    """Frames, p50/p99 lag and the share later than 10 ms, from a cumulative playout-lag histogram."""
    frames = buckets[float("inf")]
    return {
        "frames": frames,
        "jitter_p50_ms": quantile(buckets, 0.50) * 1000,
        "jitter_p99_ms": quantile(buckets, 0.99) * 1000,
        "late_over_10ms": (frames - buckets[0.01]) / max(1, frames),
    }


def run_server_ceiling(count: int, env: dict[str, str]) -> dict:
    """The same server serving a bare Media Streams agent (bench/voice_ceiling_asgi.py) to N duplex callers."""
    import uuid

    calls = [{"id": str(uuid.uuid4()), "sid": f"CA{index:032d}", "token": "-"} for index in range(count)]
    reserved = reserve()
    port = reserved.getsockname()[1]
    server = start_server(reserved, env, "bench.voice_ceiling_asgi:served")
    try:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
            json.dump(calls, handle)
        samples: list[tuple[float, float]] = []
        threading.Thread(target=sample_cpu, args=(server, samples), daemon=True).start()
        subprocess.run(
            [*pinned(1), sys.executable, "-m", "bench.voice_calls_load", f"--port={port}",
             f"--calls={handle.name}", f"--duplex={SERVER_CEILING_SECONDS}"],
            cwd=ROOT, capture_output=True, text=True, check=True, timeout=600,
        )  # fmt: skip
        busy = steady_cpu_share(samples)
        buckets = lag_histogram(port)
    finally:
        os.unlink(handle.name)
        stop_server(server)
    return {"calls": count, **jitter_summary(buckets), "cpu_share": busy}


def run_ceiling(count: int) -> dict:
    port = free_port(8100, 8199)
    sink = subprocess.Popen(
        [*pinned(1), sys.executable, "-m", "bench.voice_calls_ceiling", f"--port={port}", "--sink"], cwd=ROOT
    )
    try:
        wait_until_listening(port, sink, seconds=10)
        output = subprocess.run(
            [*pinned(0), sys.executable, "-m", "bench.voice_calls_ceiling", f"--port={port}", f"--calls={count}",
             f"--seconds={CEILING_SECONDS}"],
            cwd=ROOT, capture_output=True, text=True, check=True, timeout=120,
        ).stdout  # fmt: skip
    finally:
        sink.terminate()
        sink.wait(timeout=10)
    result = json.loads(output)
    buckets = {float(le): n for le, n in result["buckets"].items()}
    return {
        "calls": count,
        **jitter_summary(buckets),
        "cpu_share": result["cpu_s"] / (result["seconds"] + 1.0),
    }


def main() -> None:
    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_BENCH_DATABASE_URL)
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3")
    ensure_database(database_url)
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DJANGO_DEBUG": "False",
        "DJANGO_LOG_LEVEL": "WARNING",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "TELEPHONY_PROVIDER": "simulated",
        "SPEECH_TO_TEXT_PROVIDER": "simulated",
        "LANGUAGE_MODEL_PROVIDER": "simulated",
        "TEXT_TO_SPEECH_PROVIDER": "simulated",
        "SIMULATED_STT_DELAY_MS": str(STT_MS),
        "SIMULATED_LLM_FIRST_TOKEN_MS": str(LLM_MS),
        "SIMULATED_TTS_FIRST_BYTE_MS": str(TTS_MS),
        "SIMULATED_CARRIER_TIME_SCALE": "1.0",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE calls_callevent, calls_transcriptturn, calls_call CASCADE")
    load_before = os.getloadavg()
    runs, ceilings, server_ceilings = {}, {}, {}
    for count in SWEEP:
        runs[count] = run_calls(count, env)
        server_ceilings[count] = run_server_ceiling(count, env)
        ceilings[count] = run_ceiling(count)
        both = {"ours": runs[count], "server": server_ceilings[count], "ceiling": ceilings[count]}
        print(json.dumps(both), flush=True)
    # The headline is the median of HEADLINE_REPEATS runs (the sweep's one included), each beside its ceiling.
    repeats = [(runs[HEADLINE], ceilings[HEADLINE])] if HEADLINE in runs else []
    while repeats and len(repeats) < HEADLINE_REPEATS:
        repeats.append((run_calls(HEADLINE, env), run_ceiling(HEADLINE)))
        print(json.dumps({"repeat": repeats[-1][0], "ceiling": repeats[-1][1]}), flush=True)
    # The server's own ceiling (the bare agent on the same server), as many times as the headline ran.
    top = HEADLINE if HEADLINE in runs else max(runs)
    headline_servers = [server_ceilings[top]]
    while len(headline_servers) < len(repeats):
        headline_servers.append(run_server_ceiling(HEADLINE, env))
        print(json.dumps({"server_ceiling": headline_servers[-1]}), flush=True)
    load_after = os.getloadavg()
    figures = headline_figures(runs, ceilings, repeats or [(runs[top], ceilings[top])], headline_servers)
    notes = sweep_notes(runs, ceilings, server_ceilings, repeats, load_before, load_after, headline_servers)
    path = write_result("voice_calls", "Voice calls (one process, one core)", figures, notes)
    print(path.read_text())


def meets(run: dict) -> bool:
    return (
        run["jitter_p99_ms"] < 10
        and run["added_p95_ms"] is not None
        and run["added_p95_ms"] < 30
        and run["error_count"] == 0
        and run["turns_persisted"] == run["turns_expected"]
    )


def headline_figures(
    runs: dict[int, dict],
    ceilings: dict[int, dict],
    repeats: list[tuple[dict, dict]],
    server_ceilings: list[dict],
) -> list[Figure]:
    count = repeats[0][0]["calls"]

    def ours_of(key: str) -> list[float]:
        return [run[key] for run, _ in repeats if run[key] is not None]

    def ceiling_of(key: str) -> list[float]:
        return [ceiling[key] for _, ceiling in repeats]

    ours = {
        key: median(ours_of(key)) if ours_of(key) else None
        for key in (
            "jitter_p99_ms",
            "jitter_p50_ms",
            "added_p95_ms",
            "added_p50_ms",
            "client_p95_ms",
            "server_cpu_share",
        )
    }
    ceiling = {key: median(ceiling_of(key)) for key in ("jitter_p99_ms", "jitter_p50_ms")}
    held = [n for n in sorted(runs) if meets(runs[n])]
    figures = [
        Figure(
            metric=f"outbound frame-send jitter p99, {count} calls",
            unit="ms", ours=ours["jitter_p99_ms"], samples=ours_of("jitter_p99_ms"),
            peer_name="bare asyncio, same pacing, same core (ceiling)",
            peer=ceiling["jitter_p99_ms"], target="< 10 ms", met=ours["jitter_p99_ms"] < 10, higher_is_better=False,
        ),
        Figure(
            metric=f"outbound frame-send jitter p99, {count} calls, vs uvicorn serving a bare Media Streams agent",
            unit="ms", ours=ours["jitter_p99_ms"], samples=ours_of("jitter_p99_ms"),
            peer_name="uvicorn + bare agent, same traffic (the server's ceiling)",
            peer=median([c["jitter_p99_ms"] for c in server_ceilings]), higher_is_better=False,
        ),
        Figure(
            metric=f"outbound frame-send jitter p50, {count} calls",
            unit="ms", ours=ours["jitter_p50_ms"], peer_name="ceiling", peer=ceiling["jitter_p50_ms"],
            higher_is_better=False,
        ),
        Figure(
            metric=f"pipeline-added latency per turn p95 (endpointer → first frame sent − providers), {count} calls",
            unit="ms", ours=ours["added_p95_ms"], samples=ours_of("added_p95_ms"), target="< 30 ms",
            met=ours["added_p95_ms"] is not None and ours["added_p95_ms"] < 30, higher_is_better=False,
        ),
        Figure(
            metric=f"pipeline-added latency per turn p50, {count} calls",
            unit="ms", ours=ours["added_p50_ms"], higher_is_better=False,
        ),
        Figure(
            metric=f"the same p95 seen by the callers (first frame received), {count} calls",
            unit="ms", ours=ours["client_p95_ms"], higher_is_better=False,
        ),
        Figure(
            metric=f"server CPU share of its core, {count} calls",
            unit="%", ours=ours["server_cpu_share"] * 100, samples=[x * 100 for x in ours_of("server_cpu_share")],
            peer_name="ceiling: pacing alone, same core", peer=median(ceiling_of("cpu_share")) * 100,
            higher_is_better=False,
        ),
        Figure(
            metric=f"server CPU per call, {count} calls",
            unit="% of a core", ours=ours["server_cpu_share"] * 100 / count,
            peer_name="uvicorn + bare agent, same traffic (the server's ceiling)",
            peer=median([c["cpu_share"] for c in server_ceilings]) * 100 / count, higher_is_better=False,
        ),
        Figure(
            metric="most concurrent calls meeting both targets (sweep " + "/".join(map(str, sorted(runs))) + ")",
            unit="calls", ours=float(max(held, default=0)), target="≥ 100", met=max(held, default=0) >= 100,
        ),
    ]  # fmt: skip
    return figures


def row(r: dict, c: dict | None = None, server: dict | None = None) -> str:
    """One run in words (with its ceilings when there are some)."""
    ceiling = f" (ceiling {c['jitter_p50_ms']:.2f}/{c['jitter_p99_ms']:.2f})" if c else ""
    late = f" (ceiling {c['late_over_10ms']:.2%})" if c else ""
    cpu = f" (ceiling {c['cpu_share']:.0%})" if c else ""
    bare = (
        f"; the bare agent on the same server: jitter p50/p99 {server['jitter_p50_ms']:.2f}/"
        f"{server['jitter_p99_ms']:.2f} ms, frames >10 ms late {server['late_over_10ms']:.2%}, CPU "
        f"{server['cpu_share']:.0%} of its core ({server['cpu_share'] / server['calls']:.2%} a call)"
        if server
        else ""
    )
    return (
        f"N={r['calls']}: jitter p50/p99 {r['jitter_p50_ms']:.2f}/{r['jitter_p99_ms']:.2f} ms{ceiling}, frames "
        f">10 ms late {r['late_over_10ms']:.2%}{late}, added p50/p95 {r['added_p50_ms']}/{r['added_p95_ms']} ms "
        f"(callers' view {fmt(r['client_p50_ms'])}/{fmt(r['client_p95_ms'])}), stages p50 {r['stages_p50_ms']}, "
        f"turns {r['turns_persisted']}/{r['turns_expected']} persisted, {r['error_count']} caller errors, server "
        f"CPU {r['server_cpu_share']:.0%} of its core{cpu} ({r['server_cpu_share'] / r['calls']:.2%} a call), "
        f"load generator {r['load_cpu_share']:.0%} of core 1, its tick lateness p99 "
        f"{fmt(r['load_tick_lateness_ms']['p99'])} ms{bare}"
    )


def sweep_notes(
    runs: dict,
    ceilings: dict,
    server_ceilings: dict,
    repeats: list[tuple[dict, dict]],
    load_before: tuple,
    load_after: tuple,
    headline_servers: list[dict],
) -> str:
    return (
        f"uvicorn (config.server: uvloop, httptools, websockets-sansio, one worker) pinned to core "
        f"{runs[min(runs)]['server_affinity']}, callers to core 1; PostgreSQL and Redis "
        f"share the cores. Fake providers: STT {STT_MS} ms, LLM first token {LLM_MS} ms, TTS first byte "
        f"{TTS_MS} ms; endpointing silence {SILENCE_MS} ms (not counted in the added latency); {TURNS} turns per "
        f"call after the opener. Load average before/after: {load_before[0]:.2f}/{load_after[0]:.2f}. "
        + "; ".join(row(runs[n], ceilings[n], server_ceilings[n]) for n in sorted(runs))
        + (
            ". Headline repeats (medians above): "
            + "; ".join(row(r, c, server) for (r, c), server in zip(repeats[1:], headline_servers[1:], strict=True))
            if len(repeats) > 1
            else ""
        )
        + ". Errors (first few): "
        + json.dumps({n: runs[n]["errors"] for n in runs if runs[n]["errors"]})
    )


def fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


if __name__ == "__main__":
    main()
