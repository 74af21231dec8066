"""Procedural telephone audio as 8 kHz μ-law: speech-like syllables, voiced noise, tones and silence.

No TTS engine is guaranteed on these machines, and the offline default must still *sound* like turns
taking place: the simulated TTS, the offline fallback phrases, the tests and the benchmarks all use this.
A word becomes one syllable per vowel group; a syllable is a harmonic-rich periodic wave (a wavetable at
a pitch chosen from the syllable's text, with formant-like boosts near 700 Hz and 1.2 kHz) under a
raised-cosine envelope; words and punctuation leave gaps. webrtcvad reads it as speech, and its length
follows the text (about 165 words per minute), so timing-dependent logic (barge-in, marks) is exercised.
Deterministic: the same text always gives the same bytes.

The simulated carrier's callee, which has no text to say, speaks `voiced_noise_ulaw` (wavering tones
under noise, seeded) and answers a voicemail with `tone_ulaw`. Everything is encoded by `voice.codec`.
"""

import functools
import math
import random
import re
import struct
import zlib
from collections.abc import Iterator

from voice import codec

WORDS_PER_MINUTE = 165
_PITCHES_HZ = (105, 115, 125, 140, 155, 170)
_WORD_GAP_MS = 60
_COMMA_GAP_MS = 180
_SENTENCE_GAP_MS = 320
_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)*|[,;:]|[.!?…]+")
_VOWEL_GROUPS = re.compile(r"[aeiouy]+", re.IGNORECASE)


@functools.cache
def _wavetable(pitch_hz: int) -> tuple[float, ...]:
    """One period of a voiced sound at `pitch_hz`, peak-normalised."""
    period = round(codec.SAMPLE_RATE / pitch_hz)
    harmonics = [k for k in range(1, 40) if k * pitch_hz < 3400]
    weights = {k: 1 / k + 0.8 * math.exp(-(((k * pitch_hz - 700) / 250) ** 2)) for k in harmonics}
    for k in harmonics:
        weights[k] += 0.5 * math.exp(-(((k * pitch_hz - 1200) / 300) ** 2))
    wave = [sum(w * math.sin(2 * math.pi * k * n / period) for k, w in weights.items()) for n in range(period)]
    peak = max(abs(v) for v in wave)
    return tuple(v / peak for v in wave)


@functools.cache
def _envelope(count: int) -> tuple[float, ...]:
    return tuple(0.5 - 0.5 * math.cos(2 * math.pi * n / count) for n in range(count))


def _syllable(text: str, duration_ms: int, amplitude: float) -> list[int]:
    table = _wavetable(_PITCHES_HZ[zlib.crc32(text.encode()) % len(_PITCHES_HZ)])
    count = duration_ms * codec.SAMPLE_RATE // 1000
    period = len(table)
    return [round(amplitude * envelope * table[n % period]) for n, envelope in enumerate(_envelope(count))]


def iter_speech_like_pcm(
    text: str, *, amplitude: float = 9000.0, words_per_minute: int = WORDS_PER_MINUTE
) -> Iterator[bytes]:
    """`speech_like_pcm` one word or pause at a time, so a streaming caller never computes more than a word."""
    word_ms = 60_000 // words_per_minute
    for token in _TOKEN.findall(text):
        if token in {",", ";", ":"}:
            yield _silence_pcm(_COMMA_GAP_MS)
        elif token[0] in ".!?…":
            yield _silence_pcm(_SENTENCE_GAP_MS)
        else:
            yield _word_pcm(token.lower(), word_ms, amplitude)


@functools.lru_cache(maxsize=2048)
def _word_pcm(word: str, word_ms: int, amplitude: float) -> bytes:
    syllables = _VOWEL_GROUPS.findall(word) or [word]
    voiced_ms = max(80, (word_ms - _WORD_GAP_MS) * max(1, len(syllables)) // 2) // len(syllables)
    samples: list[int] = []
    for index, syllable in enumerate(syllables):
        samples.extend(_syllable(f"{word}{index}{syllable}", voiced_ms, amplitude))
    samples.extend([0] * (_WORD_GAP_MS * codec.SAMPLE_RATE // 1000))
    return struct.pack(f"<{len(samples)}h", *samples)


def _silence_pcm(ms: int) -> bytes:
    return bytes(2 * ms * codec.SAMPLE_RATE // 1000)


def speech_like_pcm(text: str, *, amplitude: float = 9000.0, words_per_minute: int = WORDS_PER_MINUTE) -> bytes:
    """8 kHz PCM16 LE that is as long as speaking `text` would be; empty text gives empty audio."""
    return b"".join(iter_speech_like_pcm(text, amplitude=amplitude, words_per_minute=words_per_minute))


def iter_speech_like_ulaw(text: str, **options: float) -> Iterator[bytes]:
    """`iter_speech_like_pcm` encoded as μ-law, a word or pause per item."""
    for pcm in iter_speech_like_pcm(text, **options):  # type: ignore[arg-type]
        yield codec.pcm16_to_ulaw(pcm)


def speech_like_ulaw(text: str, **options: float) -> bytes:
    """`speech_like_pcm` encoded as 8 kHz μ-law, ready for Twilio."""
    return b"".join(iter_speech_like_ulaw(text, **options))


def silence_ulaw(ms: int) -> bytes:
    return bytes([codec.ULAW_SILENCE]) * (ms * codec.SAMPLE_RATE // 1000)


def tone_ulaw(frequency_hz: float, ms: int, *, amplitude: int = 8000) -> bytes:
    """A pure tone (a voicemail beep, a test signal) of `ms` milliseconds."""
    count = ms * codec.SAMPLE_RATE // 1000
    step = 2 * math.pi * frequency_hz / codec.SAMPLE_RATE
    samples = [int(amplitude * math.sin(step * n)) for n in range(count)]
    return codec.pcm16_to_ulaw(struct.pack(f"<{count}h", *samples))


def voiced_noise_ulaw(ms: int, *, seed: int = 0) -> bytes:
    """A voice-band stand-in for speech without text: two wavering tones under noise, loud enough for any VAD.

    Deterministic for a given `seed`; about three syllables a second.
    """
    rng = random.Random(seed)  # noqa: S311 - test audio, not cryptography
    count = ms * codec.SAMPLE_RATE // 1000
    samples = []
    for n in range(count):
        t = n / codec.SAMPLE_RATE
        envelope = 0.6 + 0.4 * math.sin(2 * math.pi * 3 * t)
        value = 5000 * math.sin(2 * math.pi * (180 + 40 * math.sin(2 * math.pi * 2 * t)) * t)
        value += 2500 * math.sin(2 * math.pi * 720 * t) + rng.uniform(-1500, 1500)
        samples.append(int(envelope * value))
    return codec.pcm16_to_ulaw(struct.pack(f"<{count}h", *samples))
