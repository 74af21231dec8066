"""Procedural speech-like audio: voiced syllables in the telephone band, as 8 kHz μ-law.

No TTS engine is guaranteed on these machines, and the offline default must still *sound* like turns
taking place: the simulated TTS, the offline fallback phrases, the tests and the benchmarks all use this.
A word becomes one syllable per vowel group; a syllable is a harmonic-rich periodic wave (a wavetable at
a pitch chosen from the syllable's text, with formant-like boosts near 700 Hz and 1.2 kHz) under a
raised-cosine envelope; words and punctuation leave gaps. webrtcvad reads it as speech, and its length
follows the text (about 165 words per minute), so timing-dependent logic (barge-in, marks) is exercised.
Deterministic: the same text always gives the same bytes.
"""

import functools
import math
import re
import struct
import zlib

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


def speech_like_pcm(text: str, *, amplitude: float = 9000.0, words_per_minute: int = WORDS_PER_MINUTE) -> bytes:
    """8 kHz PCM16 LE that is as long as speaking `text` would be; empty text gives empty audio."""
    word_ms = 60_000 // words_per_minute
    samples: list[int] = []

    def gap(ms: int) -> None:
        samples.extend([0] * (ms * codec.SAMPLE_RATE // 1000))

    for token in _TOKEN.findall(text):
        if token in {",", ";", ":"}:
            gap(_COMMA_GAP_MS)
        elif token[0] in ".!?…":
            gap(_SENTENCE_GAP_MS)
        else:
            syllables = _VOWEL_GROUPS.findall(token) or [token]
            voiced_ms = max(80, (word_ms - _WORD_GAP_MS) * max(1, len(syllables)) // 2) // len(syllables)
            for index, syllable in enumerate(syllables):
                samples.extend(_syllable(f"{token}{index}{syllable}", voiced_ms, amplitude))
            gap(_WORD_GAP_MS)
    return struct.pack(f"<{len(samples)}h", *samples)


def speech_like_ulaw(text: str, **options: float) -> bytes:
    """`speech_like_pcm` encoded as 8 kHz μ-law, ready for Twilio."""
    return codec.pcm16_to_ulaw(speech_like_pcm(text, **options))  # type: ignore[arg-type]


def silence_ulaw(ms: int) -> bytes:
    return bytes([codec.ULAW_SILENCE]) * (ms * codec.SAMPLE_RATE // 1000)
