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
music (chords plucked on a beat, a bass line and a hi-hat: a radio behind the caller, 15 dB under them);
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
LEAD_MS = 5000  # the line heard a while before the caller speaks: every running average has settled
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


_CHORDS_HZ = ((220.0, 277.2, 329.6), (196.0, 246.9, 293.7), (174.6, 220.0, 261.6), (196.0, 246.9, 329.6))


def music(samples: int, seed: int) -> numpy.ndarray:
    """Music-like sound at unit RMS: a chord progression (a chord a bar) of harmonic-rich tones plucked on every
    beat at 120 bpm, a bass note on each bar's first beat and a hi-hat between beats — steady, tonal and
    rhythmic, as a radio or a TV behind the caller is."""
    rate = codec.SAMPLE_RATE
    t = numpy.arange(samples) / rate
    beat = 0.5  # seconds
    offset = seed * 0.37  # each seed starts elsewhere in the song
    position = t + offset
    phase = numpy.mod(position, beat)
    pluck = numpy.exp(-phase * 6)  # each beat's attack and decay
    chord = ((position // (4 * beat)).astype(int)) % len(_CHORDS_HZ)
    signal = numpy.zeros(samples)
    for note in range(3):
        frequency = numpy.array(_CHORDS_HZ)[chord, note]
        for harmonic, weight in ((1, 1.0), (2, 0.5), (3, 0.25)):
            signal += weight * numpy.sin(2 * numpy.pi * frequency * harmonic * t) * pluck
    bass = numpy.array(_CHORDS_HZ)[chord, 0] / 2
    signal += 1.5 * numpy.sin(2 * numpy.pi * bass * t) * numpy.exp(-numpy.mod(position, 4 * beat) * 2)
    hat = numpy.random.default_rng(seed).normal(0.0, 1.0, samples) * numpy.exp(
        -numpy.mod(position + beat / 2, beat) * 40
    )
    signal += 0.4 * hat
    return signal / numpy.sqrt(numpy.mean(signal**2))


def _rms(signal: numpy.ndarray) -> float:
    return float(numpy.sqrt(numpy.mean(signal**2)))


@dataclass(frozen=True)
class Trial:
    """One phrase through one condition: inbound audio, the real speech span, what the agent sent meanwhile."""

    inbound: bytes
    speech_start_ms: int
    speech_end_ms: int
    agent: bytes = b""  # the agent's audio, frame-aligned with `inbound` from its start
    lost_frames: frozenset[int] = frozenset()


ECHO_DELAY_MS = 120  # the agent's voice comes back through the carrier and the phone this much later
ECHO_GAIN = 10 ** (-20 / 20)  # 20 dB down
CLIPPING_GAIN = 8.0  # 18 dB too hot: flattened at full scale
UNDER_CALLER = 10 ** (-15 / 20)  # babble and music, 15 dB under the caller


def background(condition: str, samples: int, *, seed: int, speech_rms: float, others: Sequence[bytes]) -> numpy.ndarray:
    """What the line carries besides the caller (and the agent's echo) under `condition`, `samples` long:
    white noise, other voices, music; the echo condition's faint hiss; silence otherwise."""
    if condition.startswith("white"):
        return white_noise(samples, float(condition.removeprefix("white")), seed)
    if condition == "babble":
        babble = numpy.zeros(samples)
        for offset, other in enumerate(others[:3]):
            voice = numpy.tile(to_linear(other), samples // len(other) + 4)
            start = offset * 2800 + seed * 97
            babble += voice[start : start + samples]
        return babble * (speech_rms / _rms(babble)) * UNDER_CALLER
    if condition == "music":
        return music(samples, seed) * speech_rms * UNDER_CALLER
    if condition == "echo":
        return white_noise(samples, -60, seed)
    if condition in ("clean", "clipping") or condition.startswith("loss"):
        return numpy.zeros(samples)
    raise ValueError(f"unknown line condition {condition!r}")


def caller_gain(condition: str) -> float:
    """How loud the caller reaches the line (clipping: far too loud)."""
    return CLIPPING_GAIN if condition == "clipping" else 1.0


def echo_gain(condition: str) -> float:
    """How much of the agent's voice comes back (only under the echo condition)."""
    return ECHO_GAIN if condition == "echo" else 0.0


def lost_frames(condition: str, frames: int, *, seed: int) -> frozenset[int]:
    """The frames (by index) that never arrive: a share of them under a loss condition, as over a lossy network
    (Twilio does not fill the gap)."""
    if not condition.startswith("loss"):
        return frozenset()
    share = float(condition.removeprefix("loss")) / 100
    rng = random.Random(seed)  # noqa: S311 - reproducible loss pattern
    return frozenset(index for index in range(frames) if rng.random() < share)


def build(condition: str, phrase: bytes, others: Sequence[bytes], *, seed: int = 1) -> Trial:
    """`condition`: clean | white-50 (any dBFS) | babble | music | echo | loss2 (any %) | clipping."""
    speech = to_linear(phrase)
    lead, trail = LEAD_MS * 8, TRAIL_MS * 8
    agent = numpy.zeros(0)
    if condition == "echo":
        agent = to_linear(others[0])
        lead = len(agent) + 400 * 8  # the caller answers 400 ms after the agent stops
    total = lead + len(speech) + trail
    line = numpy.zeros(total)
    line[lead : lead + len(speech)] = speech * caller_gain(condition)
    line += background(condition, total, seed=seed, speech_rms=_rms(speech), others=others)
    if len(agent):
        delay = ECHO_DELAY_MS * 8
        line[delay : delay + len(agent)] += agent * echo_gain(condition)
    lost = lost_frames(condition, total // codec.FRAME_BYTES, seed=seed)
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


CONDITIONS = (
    "clean", "white-50", "white-45", "white-40", "white-35", "babble", "music", "echo", "loss2", "loss5", "clipping"
)  # fmt: skip


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
