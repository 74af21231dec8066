"""Observability's cost on the media path at 100 calls: metrics (multiprocess mode, as served) and tracing off.

What one second of one call costs in instrumentation, as the media path does it:
- inbound: 50 frames counted in an int, the shared counter updated once (`calls/consumers.py`);
- outbound: 50 frames, each observed in the playout-lag histogram (there before this issue), counted in an int,
  the shared counter updated once (`voice/pipeline/playout.py`);
- tracing off: a conversation turn every 4 s, each with three provider streams (STT, LLM, TTS spans at their
  breakers) and one `media turn` span — no-op spans, since no provider is installed.

Times 100 calls gives the CPU seconds spent per wall second, i.e. the share of one core; the target is under
2 % of the core that carries those 100 calls. The pre-existing histogram is reported on its own line, so what
this issue added is visible apart. Medians over REPEATS; one core, in this process.
"""

import os
import tempfile
import time
from collections.abc import Callable

# prometheus_client picks its multiprocess storage at import: set the folder first, as make run and docker do.
os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="bench-observability-")

from opentelemetry import trace

from bench.harness import Figure, median, write_result
from monitoring.metrics import MEDIA_FRAMES, PLAYOUT_LAG

REPEATS = int(os.environ.get("BENCH_REPEATS", "5"))
CALLS = 100
FRAMES = 50  # per second, each way
TURN_EVERY_SECONDS = 4
CALL_SECONDS = 2000  # call-seconds per timing loop
FRAMES_IN = MEDIA_FRAMES.labels(direction="in")
FRAMES_OUT = MEDIA_FRAMES.labels(direction="out")
tracer = trace.get_tracer("bench")


def added_metrics(seconds: int) -> None:
    """The frame counters this issue added: an int per frame, the shared counter once a second, each way."""
    frames_in = frames_out = 0
    for _ in range(seconds):
        for _ in range(FRAMES):
            frames_in += 1
            if frames_in % FRAMES == 0:
                FRAMES_IN.inc(FRAMES)
            frames_out += 1
            if frames_out % FRAMES == 0:
                FRAMES_OUT.inc(FRAMES)


def playout_histogram(seconds: int) -> None:
    for _ in range(seconds * FRAMES):
        PLAYOUT_LAG.observe(0.0012)


def tracing_off(seconds: int) -> None:
    for _ in range(seconds // TURN_EVERY_SECONDS):
        for provider in ("stt", "llm", "tts"):
            span = tracer.start_span(f"provider {provider}", attributes={"callwright.provider": provider})
            span.end()
        span = tracer.start_span("media turn", start_time=1, attributes={"callwright.turn.index": 1})
        span.end(end_time=2)


def core_share(work: Callable[[int], None]) -> tuple[float, list[float]]:
    """% of one core that `work` takes for CALLS concurrent calls (median over REPEATS)."""
    samples = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        work(CALL_SECONDS)
        per_call_second = (time.perf_counter() - started) / CALL_SECONDS
        samples.append(per_call_second * CALLS * 100)
    return median(samples), samples


def main() -> None:
    added, added_samples = core_share(added_metrics)
    histogram, histogram_samples = core_share(playout_histogram)
    spans, span_samples = core_share(tracing_off)
    total = added + histogram + spans
    figures = [
        Figure("frame counters added (100 calls)", "% of a core", added, added_samples, target="< 2 %",
               met=added < 2, higher_is_better=False),
        Figure("tracing off: provider and turn spans (100 calls)", "% of a core", spans, span_samples,
               target="< 2 %", met=spans < 2, higher_is_better=False),
        Figure("playout-lag histogram, per frame (there before; 100 calls)", "% of a core", histogram,
               histogram_samples, higher_is_better=False),
        Figure("all media-path metrics + tracing off (100 calls)", "% of a core", total, [], target="< 2 %",
               met=total < 2, higher_is_better=False),
    ]  # fmt: skip
    path = write_result(
        "observability",
        "Observability on the media path",
        figures,
        notes="Instrumentation only, timed in a loop as the media path calls it (multiprocess metrics on, no "
        "tracer provider); the share of one core for 100 concurrent calls.",
    )
    for figure in figures:
        print(f"{figure.metric}: {figure.ours:.3f} {figure.unit}")
    print(path)


if __name__ == "__main__":
    main()
