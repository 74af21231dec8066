"""G.711 μ-law and procedurally generated telephone audio (tones, noise, silence) — no files needed."""

import math
import random

from voice.media_streams import FRAME_BYTES

SAMPLE_RATE = 8000
_BIAS = 0x84
_CLIP = 32635


def linear_to_ulaw(sample: int) -> int:
    """One 16-bit PCM sample → one G.711 μ-law byte (the standard segment encoder)."""
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), _CLIP) + _BIAS
    exponent = 7
    for bit in range(7, -1, -1):
        if magnitude & (0x4000 >> (7 - bit)):
            exponent = bit
            break
    else:
        exponent = 0
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def ulaw_to_linear(byte: int) -> int:
    byte = ~byte & 0xFF
    sign, exponent, mantissa = byte & 0x80, (byte >> 4) & 0x07, byte & 0x0F
    value = (((mantissa << 3) + _BIAS) << exponent) - _BIAS
    return -value if sign else value


ULAW_SILENCE = linear_to_ulaw(0)


def tone(frequency_hz: float, seconds: float, *, amplitude: int = 8000) -> bytes:
    count = int(seconds * SAMPLE_RATE)
    return bytes(
        linear_to_ulaw(int(amplitude * math.sin(2 * math.pi * frequency_hz * n / SAMPLE_RATE))) for n in range(count)
    )


def speech_like(seconds: float, *, seed: int = 0) -> bytes:
    """A voice-band stand-in for speech: two wavering tones under noise, loud enough for any VAD."""
    rng = random.Random(seed)  # noqa: S311 - test audio, not cryptography
    count = int(seconds * SAMPLE_RATE)
    samples = []
    for n in range(count):
        t = n / SAMPLE_RATE
        envelope = 0.6 + 0.4 * math.sin(2 * math.pi * 3 * t)  # ~3 syllables a second
        value = 5000 * math.sin(2 * math.pi * (180 + 40 * math.sin(2 * math.pi * 2 * t)) * t)
        value += 2500 * math.sin(2 * math.pi * 720 * t) + rng.uniform(-1500, 1500)
        samples.append(linear_to_ulaw(int(envelope * value)))
    return bytes(samples)


def silence(seconds: float) -> bytes:
    return bytes([ULAW_SILENCE]) * int(seconds * SAMPLE_RATE)


def frames(audio: bytes) -> list[bytes]:
    """Split μ-law audio into 20 ms frames, padding the last with silence."""
    if len(audio) % FRAME_BYTES:
        audio += bytes([ULAW_SILENCE]) * (FRAME_BYTES - len(audio) % FRAME_BYTES)
    return [audio[i : i + FRAME_BYTES] for i in range(0, len(audio), FRAME_BYTES)]
