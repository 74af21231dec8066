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
- added latency: from the caller's last frame of speech to the first reply frame, minus the same turn's p95 over
  BASELINE_RUNS runs with one call on that server; p95 over the turns (what the load adds, whatever the
  endpointer's own wait: Pipecat's endpoint moves by tens of ms with the noise under a phrase's end and the phase
  of its 32 ms windows, so the reference is the one-call runs' p95, not one run or their median).
For ours the server's own playout-lag histogram (bench_voice_calls' jitter) is recorded beside: the callers'
view also holds their own core's lateness, which other sessions on this machine disturb.
A server keeps up at N calls when, over BENCH_VAD_REPEATS runs at N, the median jitter p99 is < 10 ms, the median
added p95 < 30 ms and every run answered every turn; the figure is the largest N of its sweep that keeps up (a
side's sweep stops after two Ns in a row that do not). Both sweeps run interleaved in one run on this shared 2-core
machine: compare the ratio, not the absolute numbers. BENCH_VAD_NICE (e.g. -15) or BENCH_VAD_RTPRIO (e.g. 10:
SCHED_RR, which preempts every ordinary process at once; the kernel still leaves them 5 % of each core) raises the
priority of the benchmark and so of everything it starts — both servers and the load generator alike — so other
sessions' test suites take less from the measured processes (as root); the load average and the busiest other
processes are recorded with the figures either way. PostgreSQL and Redis, which only our server uses, keep their
ordinary priority.
"""

import json
import os
import socket
import statistics
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
REPEATS = int(os.environ.get("BENCH_VAD_REPEATS", "1"))
BASELINE_RUNS = int(os.environ.get("BENCH_VAD_BASELINE_RUNS", "10"))
NICE = int(os.environ.get("BENCH_VAD_NICE", "0"))
RTPRIO = int(os.environ.get("BENCH_VAD_RTPRIO", "0"))
# "all": the jitter criterion over every agent frame; "steady": over the frames once every call has started (a
# server that stalls the others while a call starts — Pipecat builds a Silero session per call — is judged on its
# steady state). Each writes its own result file.
JITTER = os.environ.get("BENCH_VAD_JITTER", "all")
JITTER_KEY = {"all": "jitter_p99_ms", "steady": "jitter_p99_once_all_in_ms"}[JITTER]
STEADY_LABEL = " once every call has started"
NOISE_DBFS = float(os.environ.get("BENCH_VAD_NOISE_DBFS", "-45"))
PORTS = tuple(int(p) for p in os.environ.get("BENCH_VAD_PORTS", "8310-8319").split("-"))
PIPECAT_PYTHON = os.environ.get("BENCH_PIPECAT_PYTHON", str(ROOT.parent / "h17-pipecat-venv" / "bin" / "python"))
PEER_NAME = "Pipecat 1.14 + Silero VAD"
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


def per_turn(runs: list[dict]) -> dict[int, list[float]]:
    """The answered turns' reply delays, by turn."""
    delays: dict[int, list[float]] = {}
    for run in runs:
        for turn in run["turns"]:
            if turn["reply_ms"] is not None:
                delays.setdefault(turn["turn"], []).append(turn["reply_ms"])
    return delays


def summary(result: dict, baseline: dict[int, float]) -> dict:
    """One run in figures; `baseline`: the one-call runs' p95 reply delay per turn (each turn says its own phrase)."""
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


def median_of(runs: list[dict]) -> dict:
    """The repeats at one N in figures: the median of each, the worst of answers, errors and generator lateness."""

    def middle(key: str) -> float | None:
        values = [run[key] for run in runs if run[key] is not None]
        return statistics.median(values) if values else None

    return {
        "calls": runs[0]["calls"],
        "runs": len(runs),
        "jitter_p99_ms": middle("jitter_p99_ms"),
        "jitter_p99_once_all_in_ms": middle("jitter_p99_once_all_in_ms"),
        "added_p95_ms": middle("added_p95_ms"),
        "reply_p50_ms": middle("reply_p50_ms"),
        "server_cpu_share": middle("server_cpu_share"),
        "server_side_jitter_p99_ms": middle("server_side_jitter_p99_ms"),
        "turns_answered_least": min(run["turns_answered"] for run in runs),
        "error_count_most": max(run["error_count"] for run in runs),
        "errors": [error for run in runs for error in run["errors"]][:3],
        "generator_tick_p99_ms_most": max(run["load_tick_lateness_ms"]["p99"] or 0.0 for run in runs),
        "load_average_1min": [run["load_average_1min"] for run in runs],
        "each": [
            {key: run[key] for key in ("jitter_p99_ms", "added_p95_ms", "server_cpu_share", "turns_answered")}
            for run in runs
        ],
    }


def generator_kept_up(figures: dict) -> bool:
    """Whether the callers themselves kept time (their ticks' lateness p99 under 20 ms in every repeat): above
    that, the caller-side figures measure the load generator's core (which other sessions share), not the server."""
    return figures["generator_tick_p99_ms_most"] < 20


def keeps_up(figures: dict, count: int) -> bool:
    return (
        figures[JITTER_KEY] is not None
        and figures[JITTER_KEY] < 10
        and figures["added_p95_ms"] is not None
        and figures["added_p95_ms"] < 30
        and figures["error_count_most"] == 0
        and figures["turns_answered_least"] == count * TURNS
    )


def busy_processes(seconds: float = 2.0, top: int = 6) -> list[str]:
    """The processes that used the most CPU over `seconds` (what else ran on the machine), as "command pid: %"."""

    def times() -> dict[int, tuple[str, float]]:
        found = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                    words = (entry / "cmdline").read_bytes().split(b"\0")[:4]
                    name = " ".join(w.decode(errors="replace") for w in words if w)[:80] or stat.split(" ")[1]
                    found[int(entry.name)] = (name, float(sum(map(int, stat.rsplit(")", 1)[1].split()[11:13]))))
                except (OSError, ValueError):
                    continue
        return found

    before = times()
    time.sleep(seconds)
    after = times()
    tick = os.sysconf("SC_CLK_TCK")
    used = [
        (ticks - before[pid][1], name, pid)
        for pid, (name, ticks) in after.items()
        if pid in before and pid != os.getpid()
    ]
    busiest = sorted(used, reverse=True)[:top]
    return [f"{name} {pid}: {100 * ticks / tick / seconds:.0f} %" for ticks, name, pid in busiest if ticks > 0]


def at_size(count: int, run, baseline: dict[int, float], label: str) -> dict:
    """`run(count)` REPEATS times: the median figures."""
    runs = []
    for _ in range(REPEATS):
        figures = summary(run(count), baseline)
        figures["load_average_1min"] = round(os.getloadavg()[0], 2)
        runs.append(figures)
    result = median_of(runs)
    print(json.dumps({label: result}), flush=True)
    return result


def next_size(sizes: tuple[int, ...], results: dict[int, dict]) -> int | None:
    """A sweep's next N, or None once it is done: its sizes used up, or its last two Ns did not keep up (one
    failure alone may be the machine's)."""
    tried = sorted(results)[-2:]
    if len(tried) == 2 and not any(keeps_up(results[count], count) for count in tried):
        return None
    return next((count for count in sizes if count not in results), None)


def main() -> None:
    if not Path(PIPECAT_PYTHON).exists():
        raise SystemExit(f"no Pipecat virtualenv at {PIPECAT_PYTHON}: pip install "
                         "'pipecat-ai[silero,websocket]==1.14.0' uvicorn uvloop httptools into one and set "
                         "BENCH_PIPECAT_PYTHON")  # fmt: skip
    # Inherited by both servers and the load generator: the same priority for every side.
    if NICE:
        os.nice(NICE)
    if RTPRIO:
        os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(RTPRIO))
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
    load_before, busy_before = os.getloadavg(), busy_processes()
    started = time.time()
    # One call each first: the reply delay nothing else adds to (each server's own endpointer and bot), per turn the
    # p95 of the runs.
    one_call = {
        "ours": [run_ours(1, env) for _ in range(BASELINE_RUNS)],
        "pipecat": [run_peer(1, audio) for _ in range(BASELINE_RUNS)],
    }
    unanswered = [name for name, runs in one_call.items() for r in runs if len(r["turns"]) < TURNS
                  or any(t["reply_ms"] is None for t in r["turns"])]  # fmt: skip
    if unanswered:
        raise SystemExit(f"a one-call run went unanswered: {unanswered}")
    baseline = {
        name: {turn: percentile(values, 95) for turn, values in per_turn(runs).items()}
        for name, runs in one_call.items()
    }  # fmt: skip
    spread = {name: {turn: [min(values), max(values)] for turn, values in per_turn(runs).items()}
              for name, runs in one_call.items()}  # fmt: skip
    print(json.dumps({"baseline_reply_p95_ms": baseline, "one_call_range_ms": spread}), flush=True)
    # The two sweeps interleaved, N by N, so both see the machine as it is meanwhile.
    ours: dict[int, dict] = {}
    peer: dict[int, dict] = {}
    while True:
        mine, theirs = next_size(OURS, ours), next_size(PEER, peer)
        if mine is None and theirs is None:
            break
        if mine is not None:
            ours[mine] = at_size(mine, lambda n: run_ours(n, env), baseline["ours"], "ours")
        if theirs is not None:
            peer[theirs] = at_size(theirs, lambda n: run_peer(n, audio), baseline["pipecat"], "pipecat")
    load_after, busy_after = os.getloadavg(), busy_processes()
    ours_knee = max((n for n, r in ours.items() if keeps_up(r, n)), default=0)
    peer_knee = max((n for n, r in peer.items() if keeps_up(r, n)), default=0)
    lagged = sorted({f"ours {n}" for n, r in ours.items() if not generator_kept_up(r)}
                    | {f"Pipecat {n}" for n, r in peer.items() if not generator_kept_up(r)})  # fmt: skip
    figures = [
        Figure(
            metric=f"calls per process keeping jitter p99 < 10 ms{STEADY_LABEL if JITTER == 'steady' else ''} and "
            f"added p95 < 30 ms, line noise {NOISE_DBFS:g} "
            f"dBFS, median of {REPEATS} (swept {'/'.join(map(str, ours))} vs {'/'.join(map(str, peer))})",
            unit="calls", ours=float(ours_knee), peer_name="Pipecat 1.14 + Silero VAD, same load, same run",
            peer=float(peer_knee), target="≥ 100 calls", met=ours_knee >= 100,
        ),
    ]  # fmt: skip
    figures += side_by_side(ours, peer, ours_knee, peer_knee)
    notes = (
        f"Run {time.strftime('%Y-%m-%d %H:%M', time.gmtime(started))}–{time.strftime('%H:%M', time.gmtime())} UTC on a "
        f"2-core machine shared with other sessions, the benchmark and all it started at "
        f"{f'SCHED_RR priority {RTPRIO}' if RTPRIO else f'nice {NICE}'}: load "
        f"average {load_before[0]:.1f} before, {load_after[0]:.1f} after (1 min); busiest processes before: "
        f"{'; '.join(busy_before) or 'none'}; after: {'; '.join(busy_after) or 'none'}. "
        f"Sizes whose load generator itself fell behind (tick lateness p99 ≥ 20 ms in a repeat; their caller-side "
        f"figures measure it, not the server): {', '.join(lagged) or 'none'}. "
        f"Reply delay at one call, per turn, p95 of {BASELINE_RUNS} runs: ours {baseline['ours']}, Pipecat "
        f"{baseline['pipecat']} ms (each endpointer's 600 ms of silence included); their range: ours {spread['ours']}, "
        f"Pipecat {spread['pipecat']} ms. "
        "Runs, ours: " + json.dumps(ours) + ". Runs, Pipecat: " + json.dumps(peer)
    )
    name, title = "vad_capacity", "Turn detection under load, beside Pipecat + Silero"
    if JITTER == "steady":
        name, title = "vad_capacity_steady", f"{title} (jitter once every call has started)"
    path = write_result(name, title, figures, notes)
    print(path.read_text())


def side_by_side(ours: dict[int, dict], peer: dict[int, dict], ours_knee: int, peer_knee: int) -> list[Figure]:
    """Ours beside Pipecat at the largest size both sweeps ran, and the CPU per call at each one's knee."""
    figures = []
    common = sorted(set(ours) & set(peer))
    if common:
        count = common[-1]
        mine, theirs = ours[count], peer[count]
        for key, name, unit in (
            ("jitter_p99_ms", "caller-side jitter p99", "ms"),
            ("jitter_p99_once_all_in_ms", "caller-side jitter p99 once every call has started", "ms"),
            ("added_p95_ms", "added latency per turn p95 (over the one-call runs' p95 reply delay)", "ms"),
        ):
            # Added latency within the one-call runs' own spread comes out near zero or below it: no ratio to speak of
            # (the notes keep the values).
            if mine[key] is not None and theirs[key] is not None and min(mine[key], theirs[key]) > 0:
                figures.append(Figure(metric=f"{name}, {count} calls, median of {REPEATS}", unit=unit, ours=mine[key],
                                      peer=theirs[key], peer_name=PEER_NAME, higher_is_better=False))  # fmt: skip
        if mine["server_cpu_share"] and theirs["server_cpu_share"]:
            figures.append(Figure(metric=f"server CPU per call, {count} calls", unit="% of a core",
                                  ours=mine["server_cpu_share"] / count * 100, peer_name=PEER_NAME,
                                  peer=theirs["server_cpu_share"] / count * 100, higher_is_better=False))  # fmt: skip
    if ours.get(ours_knee, {}).get("server_cpu_share") and peer.get(peer_knee, {}).get("server_cpu_share"):
        figures.append(Figure(metric=f"server CPU per call at each one's knee (ours {ours_knee}, Pipecat {peer_knee} "
                              "calls)", unit="% of a core", ours=ours[ours_knee]["server_cpu_share"] / ours_knee * 100,
                              peer_name=PEER_NAME, peer=peer[peer_knee]["server_cpu_share"] / peer_knee * 100,
                              higher_is_better=False))  # fmt: skip
    return figures


if __name__ == "__main__":
    main()
