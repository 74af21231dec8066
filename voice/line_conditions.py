"""Phone-line conditions applied to a caller's speech, and the endpoint the turn detector finds through them.

Used by the line-condition tests (voice/tests/pipeline/test_line_conditions.py) and the endpointing
benchmark (bench/bench_endpointing.py). A caller's phrase (8 kHz μ-law, trimmed so its first and last samples
are speech) is placed after a stretch of the line alone, followed by three seconds of the line, and the whole
is fed to a `TurnDetector` frame by frame on the carrier's 20 ms clock. What is measured:

- the endpoint delay: from the phrase's real end to the first `SpeechEnded` at or after it (a reply could
  start no sooner);
- early ends: a `SpeechEnded` while the caller was still speaking (a reply would start over them);
- false turns: a `SpeechEnded` before the caller spoke at all (noise or echo taken for a turn).

Conditions: clean; steady white noise at a level in dBFS; babble (other voices, summed, under the caller);
the agent's own voice echoing back 20 dB down while it speaks just before the caller answers; lost frames
(a share of the caller's frames never arrive, as over a lossy network: Twilio does not fill the gap); and
clipping (the caller far too loud for the line).
"""

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy

from voice import codec
from voice.pipeline.turn_taking import SpeechEnded, TurnDetector

FIXTURES = Path(__file__).parent / "tests" / "fixtures" / "speech"
LEAD_MS = 1000
TRAIL_MS = 3000
_ULAW_TO_LINEAR = numpy.array(codec.ULAW_TO_LINEAR, dtype=numpy.float64)


def phrases() -> dict[str, bytes]:
    """The caller phrases rendered once by espeak-ng (see fixtures/speech/SOURCE.txt), by name."""
    return {path.stem: path.read_bytes() for path in sorted(FIXTURES.glob("*.ulaw"))}


def to_linear(ulaw: bytes) -> numpy.ndarray:
    return _ULAW_TO_LINEAR[numpy.frombuffer(ulaw, dtype=numpy.uint8)]


def to_ulaw(linear: numpy.ndarray) -> bytes:
    clipped = numpy.clip(numpy.round(linear), -32768, 32767).astype("<i2")
    return codec.pcm16_to_ulaw(clipped.tobytes())


def white_noise(samples: int, dbfs: float, seed: int) -> numpy.ndarray:
    return numpy.random.default_rng(seed).normal(0.0, 32768 * 10 ** (dbfs / 20), samples)


@dataclass(frozen=True)
class Trial:
    """One phrase through one condition: inbound audio, the real speech span, what the agent sent meanwhile."""

    inbound: bytes
    speech_start_ms: int
    speech_end_ms: int
    agent: bytes = b""  # the agent's audio, frame-aligned with `inbound` from its start
    lost_frames: frozenset[int] = frozenset()


def build(condition: str, phrase: bytes, others: Sequence[bytes], *, seed: int = 1) -> Trial:
    """`condition`: clean | white-50 (any dBFS) | babble | echo | loss2 (any %) | clipping."""
    speech = to_linear(phrase)
    lead, trail = LEAD_MS * 8, TRAIL_MS * 8
    agent = numpy.zeros(0)
    if condition == "echo":
        agent = to_linear(others[0])
        lead = len(agent) + 400 * 8  # the caller answers 400 ms after the agent stops
    total = lead + len(speech) + trail
    line = numpy.zeros(total)
    line[lead : lead + len(speech)] = speech
    lost: frozenset[int] = frozenset()
    if condition.startswith("white"):
        line += white_noise(total, float(condition.removeprefix("white")), seed)
    elif condition == "babble":
        babble = numpy.zeros(total)
        for offset, other in enumerate(others[:3]):
            voice = numpy.tile(to_linear(other), total // len(other) + 4)
            start = offset * 2800 + seed * 97
            babble += voice[start : start + total]
        rms = lambda x: numpy.sqrt(numpy.mean(x**2))  # noqa: E731
        line += babble * (rms(speech) / rms(babble)) * 10 ** (-15 / 20)  # 15 dB under the caller
    elif condition == "echo":
        delay = 120 * 8  # the echo comes back through the carrier and the phone
        line[delay : delay + len(agent)] += agent * 10 ** (-20 / 20)
        line += white_noise(total, -60, seed)
    elif condition.startswith("loss"):
        share = float(condition.removeprefix("loss")) / 100
        rng = random.Random(seed)  # noqa: S311 - reproducible loss pattern
        lost = frozenset(index for index in range(total // codec.FRAME_BYTES) if rng.random() < share)
    elif condition == "clipping":
        line = numpy.clip(line * 8, -32767, 32767)  # 18 dB too hot, flattened at full scale
    elif condition != "clean":
        raise ValueError(f"unknown line condition {condition!r}")
    return Trial(to_ulaw(line), lead // 8, (lead + len(speech)) // 8, to_ulaw(agent) if len(agent) else b"", lost)


@dataclass(frozen=True)
class Endpoint:
    delay_ms: int | None  # None: the end was never found
    early_ends: int
    false_turns: int


def endpoint(trial: Trial, detector: TurnDetector) -> Endpoint:
    """Feed `trial` on the carrier's clock (lost frames never arrive) and measure the endpoint."""
    agent_frames = list(codec.reframe([trial.agent])) if trial.agent else []
    delay, early, false = None, 0, 0
    for index, frame in enumerate(codec.reframe([trial.inbound])):
        now_ms = (index + 1) * codec.FRAME_MS
        if index < len(agent_frames):
            detector.agent_speaking = True
            detector.agent_audio(agent_frames[index])
        elif index == len(agent_frames):
            detector.agent_speaking = False
        if index in trial.lost_frames:
            continue
        for event in detector.feed(frame):
            if not isinstance(event, SpeechEnded):
                continue
            if now_ms < trial.speech_start_ms:
                false += 1
            elif now_ms < trial.speech_end_ms:
                early += 1
            elif delay is None:
                delay = now_ms - trial.speech_end_ms
    return Endpoint(delay, early, false)


CONDITIONS = ("clean", "white-50", "white-45", "white-40", "white-35", "babble", "echo", "loss2", "loss5", "clipping")


def run_table(
    detector_factory: Callable[[], TurnDetector], conditions: Sequence[str] = CONDITIONS, seeds: Sequence[int] = (1,)
) -> dict[str, list[Endpoint]]:
    """Every phrase through every condition (a fresh detector each: a new call)."""
    spoken = phrases()
    results: dict[str, list[Endpoint]] = {}
    for condition in conditions:
        results[condition] = []
        for name, phrase in spoken.items():
            others = [audio for other, audio in spoken.items() if other != name]
            for seed in seeds:
                results[condition].append(endpoint(build(condition, phrase, others, seed=seed), detector_factory()))
    return results


def p95(values: Sequence[int | None]) -> float:
    """The 95th percentile (nearest rank); a missing endpoint counts as infinitely late."""
    ordered = sorted(float("inf") if value is None else value for value in values)
    return ordered[min(len(ordered) - 1, max(0, -(-len(ordered) * 95 // 100) - 1))]
