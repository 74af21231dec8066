"""Calls per process with the new turn detector on, beside Pipecat with Silero VAD, through the same load.

Both servers get the same callers (bench/voice_calls_load.py, pinned to core 1, the server to core 0): Twilio
Media Streams, 20 ms μ-law frames in real time on a line with steady white noise at NOISE_DBFS (so our
detector's unsure band, where the Silero model runs, is in use), the espeak-ng phrases of
voice/tests/fixtures/speech as the caller's words, TURNS turns after the opener, `stop` and a close at the end
as Twilio does. Each server answers every turn with synthetic audio at once (no STT, LLM or TTS delay):

- ours: the project served as in production (config.server: uvicorn, uvloop, httptools, websockets-sansio),
  the media consumer, `ConversationSession` with `CallConversationHost` on PostgreSQL (BENCH_DATABASE_URL) and
  the Redis channel layer (BENCH_REDIS_URL), simulated providers with no delay; the turn detector as shipped
  (webrtcvad behind the adaptive gate, Silero on the unsure band);
- the peer: Pipecat (pipecat-ai, in its own virtualenv: BENCH_PIPECAT_PYTHON) on the same uvicorn options —
  `TwilioFrameSerializer`, `FastAPIWebsocketTransport`, `VADProcessor(SileroVADAnalyzer)` at 8 kHz stopping
  after the same 600 ms of silence, a bot that plays the reply when the VAD says the caller stopped
  (bench/pipecat_peer.py).

Measured at the callers, the same way for both (the servers' own views differ):
- jitter: each agent frame's lateness against the best schedule of its burst (its arrival minus the audio
  before it in the burst, against the earliest such): p99 over every frame, and over the frames after every
  call has started (a call's start may stall the others: Pipecat builds a Silero session per call);
- added latency: from the caller's last frame of speech to the first reply frame, minus the same turn's with one
  call on that server (what the load adds, whatever the endpointer's own wait); p95 over the turns.
For ours the server's own playout-lag histogram (bench_voice_calls' jitter) is recorded beside: the callers'
view also holds their own core's lateness, which other sessions on this machine disturb.
A server keeps up at N calls when jitter p99 < 10 ms, added p95 < 30 ms and every turn was answered; the figure
is the largest N of its sweep that keeps up. Both sweeps run interleaved in one run on this shared 2-core
machine (other sessions' load is recorded with the figures): compare the ratio, not the absolute numbers.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from bench.bench_voice_calls import create_calls, jitter_summary, lag_histogram, sample_cpu, steady_cpu_share
from bench.harness import DEFAULT_BENCH_DATABASE_URL, Figure, percentile, write_result
from bench.servers import ensure_database, free_port, pinned, start_server, stop_server
from config.server import wait_until_listening

ROOT = Path(__file__).resolve().parent.parent
OURS = tuple(int(n) for n in os.environ.get("BENCH_VAD_OURS", "25,50,100,150").split(","))
PEER = tuple(int(n) for n in os.environ.get("BENCH_VAD_PEER", "5,10,17,25,35").split(","))
TURNS = int(os.environ.get("BENCH_VAD_TURNS", "2"))
NOISE_DBFS = float(os.environ.get("BENCH_VAD_NOISE_DBFS", "-45"))
PORTS = tuple(int(p) for p in os.environ.get("BENCH_VAD_PORTS", "8310-8319").split("-"))
PIPECAT_PYTHON = os.environ.get("BENCH_PIPECAT_PYTHON", str(ROOT.parent / "h17-pipecat-venv" / "bin" / "python"))
OPENER = "Hello, this is an automated assistant calling from Callwright. This is a test call."
REPLY = "Great, thank you. Is there anything else I can help you with?"


def load(port: int, calls: list[dict]) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(calls, handle)
    try:
        output = subprocess.run(
            [*pinned(1), sys.executable, "-m", "bench.voice_calls_load", f"--port={port}", f"--calls={handle.name}",
             f"--turns={TURNS}", "--espeak", f"--noise-dbfs={NOISE_DBFS}", "--close-after-stop"],
            cwd=ROOT, capture_output=True, text=True, check=True, timeout=900,
        ).stdout  # fmt: skip
    finally:
        os.unlink(handle.name)
    return json.loads(output)


def measured(server: subprocess.Popen, port: int, calls: list[dict]) -> dict:
    samples: list[tuple[float, float]] = []
    threading.Thread(target=sample_cpu, args=(server, samples), daemon=True).start()
    result = load(port, calls)
    result["server_cpu_share"] = steady_cpu_share(samples) if len(samples) > 1 else None
    return result


def reserved_port() -> socket.socket:
    reserved = socket.socket()
    reserved.bind(("127.0.0.1", free_port(*PORTS)))
    return reserved


def run_ours(count: int, env: dict[str, str]) -> dict:
    calls = create_calls(count)
    reserved = reserved_port()
    port = reserved.getsockname()[1]
    server = start_server(reserved, env | {"PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"})
    try:
        result = measured(server, port, calls)
        result["server_side"] = jitter_summary(lag_histogram(port))  # the server's own playout lag, beside
        return result
    finally:
        stop_server(server)


def run_peer(count: int, audio: dict[str, str]) -> dict:
    calls = [{"id": str(uuid.uuid4()), "sid": f"CA{index:032d}", "token": "-"} for index in range(count)]
    port = free_port(*PORTS)
    server = subprocess.Popen(
        [*pinned(0), PIPECAT_PYTHON, str(ROOT / "bench" / "pipecat_peer.py"), f"--port={port}",
         f"--opener={audio['opener']}", f"--reply={audio['reply']}", "--stop-secs=0.6"],
        cwd=ROOT / "bench", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_until_listening(port, server, seconds=60)
        return measured(server, port, calls)
    finally:
        stop_server(server)


def summary(result: dict, baseline: dict[int, float]) -> dict:
    """One run in figures; `baseline`: the one-call reply delay per turn (each turn says its own phrase)."""
    replies = [t["reply_ms"] for t in result["turns"] if t["reply_ms"] is not None]
    added = [t["reply_ms"] - baseline[t["turn"]] for t in result["turns"] if t["reply_ms"] is not None]
    late, steady = result["agent_frames_late_ms"], result["agent_frames_late_once_all_in_ms"]
    return {
        "calls": len({t["call"] for t in result["turns"]}) or None,
        "jitter_p99_ms": late["p99"],
        "jitter_p99_once_all_in_ms": steady["p99"],
        "frames_over_10ms": late["over_10ms"],
        "reply_p50_ms": percentile(replies, 50) if replies else None,
        "added_p95_ms": percentile(added, 95) if added else None,
        "turns_answered": len(replies),
        "errors": result["errors"][:3],
        "error_count": len(result["errors"]),
        "server_cpu_share": result["server_cpu_share"],
        "server_side_jitter_p99_ms": result.get("server_side", {}).get("jitter_p99_ms"),
        "load_tick_lateness_ms": result["tick_lateness_ms"],
    }


def generator_kept_up(run: dict) -> bool:
    """Whether the callers themselves kept time (their ticks' lateness p99 under 20 ms): above that, the
    caller-side figures measure the load generator's core (which other sessions share), not the server."""
    return run["load_tick_lateness_ms"]["p99"] is not None and run["load_tick_lateness_ms"]["p99"] < 20


def keeps_up(run: dict, count: int) -> bool:
    return (
        run["jitter_p99_ms"] is not None
        and run["jitter_p99_ms"] < 10
        and run["added_p95_ms"] is not None
        and run["added_p95_ms"] < 30
        and run["error_count"] == 0
        and run["turns_answered"] == count * TURNS
    )


def main() -> None:
    if not Path(PIPECAT_PYTHON).exists():
        raise SystemExit(f"no Pipecat virtualenv at {PIPECAT_PYTHON}: pip install 'pipecat-ai[silero,websocket]' "
                         "uvicorn uvloop httptools into one and set BENCH_PIPECAT_PYTHON")  # fmt: skip
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
        "SIMULATED_STT_DELAY_MS": "0",
        "SIMULATED_LLM_FIRST_TOKEN_MS": "0",
        "SIMULATED_TTS_FIRST_BYTE_MS": "0",
        "SIMULATED_CARRIER_TIME_SCALE": "1.0",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connection

    from voice.synthetic_audio import speech_like_pcm

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE calls_callevent, calls_transcriptturn, calls_call CASCADE")
    folder = Path(tempfile.mkdtemp())
    audio = {}
    for key, text in (("opener", OPENER), ("reply", REPLY)):
        audio[key] = str(folder / f"{key}.pcm")
        Path(audio[key]).write_bytes(speech_like_pcm(text))
    load_before = os.getloadavg()
    started = time.time()
    # One call each first: the reply delay nothing else adds to (each server's own endpointer and bot).
    base = {"ours": run_ours(1, env), "pipecat": run_peer(1, audio)}
    baseline = {name: {t["turn"]: t["reply_ms"] for t in r["turns"]} for name, r in base.items()}
    if any(None in turns.values() or len(turns) < TURNS for turns in baseline.values()):
        raise SystemExit(f"a one-call run went unanswered: {baseline}")
    print(json.dumps({"baseline_reply_ms": baseline}), flush=True)
    ours: dict[int, dict] = {}
    peer: dict[int, dict] = {}
    for index in range(max(len(OURS), len(PEER))):  # interleaved: both see the machine as it is meanwhile
        if index < len(OURS):
            ours[OURS[index]] = summary(run_ours(OURS[index], env), baseline["ours"])
            print(json.dumps({"ours": ours[OURS[index]]}), flush=True)
        if index < len(PEER):
            peer[PEER[index]] = summary(run_peer(PEER[index], audio), baseline["pipecat"])
            print(json.dumps({"pipecat": peer[PEER[index]]}), flush=True)
    load_after = os.getloadavg()
    ours_knee = max((n for n, r in ours.items() if keeps_up(r, n)), default=0)
    peer_knee = max((n for n, r in peer.items() if keeps_up(r, n)), default=0)
    lagged = sorted({f"ours {n}" for n, r in ours.items() if not generator_kept_up(r)}
                    | {f"Pipecat {n}" for n, r in peer.items() if not generator_kept_up(r)})  # fmt: skip
    figures = [
        Figure(
            metric=f"calls per process keeping jitter p99 < 10 ms and added p95 < 30 ms, line noise {NOISE_DBFS:g} "
            f"dBFS (sweeps {'/'.join(map(str, OURS))} vs {'/'.join(map(str, PEER))})",
            unit="calls", ours=float(ours_knee), peer_name="Pipecat 1.14 + Silero VAD, same load, same run",
            peer=float(peer_knee), target="≥ 100 calls", met=ours_knee >= 100,
        ),
    ]  # fmt: skip
    common = max(set(ours) & set(peer), default=None)
    if common is not None:
        mine, theirs = ours[common], peer[common]
        for key, label, unit in (
            ("jitter_p99_ms", "caller-side jitter p99", "ms"),
            ("jitter_p99_once_all_in_ms", "caller-side jitter p99 once every call has started", "ms"),
            ("added_p95_ms", "added latency per turn p95 (reply delay − the same turn's at one call)", "ms"),
        ):
            if mine[key] is not None and theirs[key] is not None:
                figures.append(Figure(metric=f"{label}, {common} calls", unit=unit, ours=mine[key], peer=theirs[key],
                                      peer_name="Pipecat 1.14 + Silero VAD", higher_is_better=False))  # fmt: skip
        if mine["server_cpu_share"] and theirs["server_cpu_share"]:
            per_call = {"ours": mine["server_cpu_share"] / common, "peer": theirs["server_cpu_share"] / common}
            figures.append(Figure(metric=f"server CPU per call, {common} calls", unit="% of a core",
                                  ours=per_call["ours"] * 100, peer_name="Pipecat 1.14 + Silero VAD",
                                  peer=per_call["peer"] * 100, higher_is_better=False))  # fmt: skip
            # CPU time is what contention on a shared machine distorts least: the calls a core carries at 75 % busy
            # (where Python media servers' audio began to stall in the voice-frameworks reference's runs).
            figures.append(Figure(metric=f"calls one core carries at 75 % busy (from CPU per call at {common} calls)",
                                  unit="calls", ours=0.75 / per_call["ours"], peer_name="Pipecat 1.14 + Silero VAD",
                                  peer=0.75 / per_call["peer"]))  # fmt: skip
    notes = (
        f"Run {time.strftime('%Y-%m-%d %H:%M', time.gmtime(started))} UTC on a 2-core machine shared with up to 7 "
        f"other sessions: load average {load_before[0]:.1f} before, {load_after[0]:.1f} after (1 min). "
        f"Runs whose load generator itself fell behind (tick lateness p99 ≥ 20 ms; their caller-side figures "
        f"measure it, not the server): {', '.join(lagged) or 'none'}. "
        f"Reply delay at one call, per turn: ours {baseline['ours']}, Pipecat {baseline['pipecat']} ms (each "
        "endpointer's 600 ms of silence included). Runs, ours: "
        + json.dumps(ours)
        + ". Runs, Pipecat: "
        + json.dumps(peer)
    )
    path = write_result("vad_capacity", "Turn detection under load, beside Pipecat + Silero", figures, notes)
    print(path.read_text())


if __name__ == "__main__":
    main()
