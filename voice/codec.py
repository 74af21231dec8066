"""G.711 μ-law ⇄ PCM16 at 8 kHz, 20 ms framing, WAV wrapping and a 24 kHz → 8 kHz downsampler.

Twilio Media Streams carry 8 kHz mono μ-law, 160 bytes per 20 ms frame; webrtcvad wants 16-bit
little-endian PCM (320 bytes per 20 ms). `audioop` is deprecated in 3.11 and gone in 3.13, so the codec
is two lookup tables built once at import:

- decode: 256 entries, applied with `bytes.translate` twice (low byte, high byte) and interleaved by
  slice assignment — both loops run in C;
- encode: 65,536 entries indexed by the unsigned 16-bit sample, bit-exact with `audioop.lin2ulaw`
  (the ITU-T G.711 segment encoder on the 14-bit magnitude).

All PCM here is signed 16-bit little-endian mono.
"""

import array
import io
import operator
import struct
import sys
import wave
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from math import cos, pi, sin

SAMPLE_RATE = 8000
FRAME_MS = 20
FRAME_BYTES = SAMPLE_RATE * FRAME_MS // 1000  # 160 μ-law bytes = 160 samples
PCM_FRAME_BYTES = FRAME_BYTES * 2  # 320
ULAW_SILENCE = 0xFF  # μ-law code for 0 (bits are inverted on the wire)

_BIAS = 0x84
_CLIP = 8159  # 14-bit magnitude clip of the G.711 encoder
_SEGMENT_ENDS = (0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF)


def ulaw_code_to_linear(code: int) -> int:
    """The G.711 decoding formula for one μ-law code: invert, sign bit 7, exponent bits 4–6, mantissa 0–3."""
    code = ~code & 0xFF
    exponent = (code >> 4) & 0x07
    magnitude = (((code & 0x0F) << 3) + _BIAS) << exponent
    magnitude -= _BIAS
    return -magnitude if code & 0x80 else magnitude


def linear_to_ulaw_code(sample: int) -> int:
    """The G.711 encoder for one signed 16-bit sample (as audioop: on the 14-bit value `sample >> 2`)."""
    value = sample >> 2
    if value < 0:
        value, mask = -value, 0x7F
    else:
        mask = 0xFF
    value = min(value, _CLIP) + (_BIAS >> 2)
    segment = next((i for i, end in enumerate(_SEGMENT_ENDS) if value <= end), 8)
    if segment >= 8:
        return 0x7F ^ mask
    return ((segment << 4) | ((value >> (segment + 1)) & 0x0F)) ^ mask


ULAW_TO_LINEAR: tuple[int, ...] = tuple(ulaw_code_to_linear(code) for code in range(256))
_DECODE_LOW = bytes(value & 0xFF for value in ULAW_TO_LINEAR)
_DECODE_HIGH = bytes((value >> 8) & 0xFF for value in ULAW_TO_LINEAR)
# Index: the sample's 16 bits read as unsigned (so -1 is 0xFFFF), which is what memoryview.cast("H") yields.
_ENCODE = bytes(linear_to_ulaw_code(index - 0x10000 if index & 0x8000 else index) for index in range(0x10000))
_ENCODE_CODES: tuple[int, ...] = tuple(_ENCODE)
_LITTLE_ENDIAN = sys.byteorder == "little"


def ulaw_to_pcm16(ulaw: bytes) -> bytes:
    """Decode μ-law bytes to PCM16 LE (twice the length)."""
    out = bytearray(len(ulaw) * 2)
    out[0::2] = ulaw.translate(_DECODE_LOW)
    out[1::2] = ulaw.translate(_DECODE_HIGH)
    return bytes(out)


def pcm16_to_ulaw(pcm: bytes) -> bytes:
    """Encode PCM16 LE to μ-law (half the length). Raises ValueError on an odd byte count."""
    if len(pcm) % 2:
        raise ValueError(f"PCM16 needs an even number of bytes, got {len(pcm)}")
    samples: Iterable[int] = memoryview(pcm).cast("H")
    if not _LITTLE_ENDIAN:  # pragma: no cover - the wire format is little-endian whatever the host
        swapped = array.array("H", pcm)
        swapped.byteswap()
        samples = swapped
    if len(pcm) < 4:  # itemgetter with one key returns a scalar, not a tuple
        return bytes(_ENCODE_CODES[sample] for sample in samples)
    # itemgetter(*samples) looks every sample up in one C call, cheaper than bytes(map(...)) per sample.
    return bytes(operator.itemgetter(*samples)(_ENCODE_CODES))


# ---- 20 ms framing ------------------------------------------------------------------------------


class Reframer:
    """Cuts a stream of arbitrarily sized byte chunks into fixed frames, keeping the remainder between chunks.

    TTS providers send chunks of any length; Twilio should get 20 ms (160-byte) frames so that marks and
    `clear` line up with what was played. `flush()` pads the last partial frame with μ-law silence.
    """

    def __init__(self, frame_bytes: int = FRAME_BYTES, pad: int = ULAW_SILENCE) -> None:
        self.frame_bytes = frame_bytes
        self.pad = pad
        self._pending = bytearray()

    def push(self, chunk: bytes) -> list[bytes]:
        self._pending += chunk
        size = self.frame_bytes
        whole = len(self._pending) - len(self._pending) % size
        frames = [bytes(self._pending[i : i + size]) for i in range(0, whole, size)]
        del self._pending[:whole]
        return frames

    def flush(self) -> bytes | None:
        """The last partial frame padded to full size, or None when nothing is pending."""
        if not self._pending:
            return None
        frame = bytes(self._pending) + bytes([self.pad]) * (self.frame_bytes - len(self._pending))
        self._pending.clear()
        return frame

    @property
    def pending(self) -> int:
        return len(self._pending)


def reframe(chunks: Iterable[bytes], frame_bytes: int = FRAME_BYTES) -> Iterator[bytes]:
    """Yield `frame_bytes`-sized frames from chunks of any size; the tail is padded with μ-law silence."""
    reframer = Reframer(frame_bytes)
    for chunk in chunks:
        yield from reframer.push(chunk)
    tail = reframer.flush()
    if tail is not None:
        yield tail


async def areframe(chunks: AsyncIterable[bytes], frame_bytes: int = FRAME_BYTES) -> AsyncIterator[bytes]:
    """`reframe` for an async stream of chunks (a TTS stream)."""
    reframer = Reframer(frame_bytes)
    async for chunk in chunks:
        for frame in reframer.push(chunk):
            yield frame
    tail = reframer.flush()
    if tail is not None:
        yield tail


# ---- WAV wrapping (transcription APIs take files, not raw μ-law) --------------------------------


def pcm16_wav(pcm: bytes, sample_rate: int = SAMPLE_RATE) -> bytes:
    """A mono PCM16 WAV file: the format every transcription API decodes."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm)
    return buffer.getvalue()


def ulaw_wav(ulaw: bytes, *, transcode: bool = True) -> bytes:
    """Wrap 8 kHz μ-law as a WAV file.

    `transcode=True` (what the adapters use) decodes to PCM16 WAV, which every decoder accepts; the
    size doubles (16 kB/s), which is nothing for one utterance. `transcode=False` writes a G.711 μ-law
    WAV (format tag 7, with the `fact` chunk non-PCM formats need) for services that accept it.
    """
    if transcode:
        return pcm16_wav(ulaw_to_pcm16(ulaw))
    fmt = struct.pack("<HHIIHHH", 7, 1, SAMPLE_RATE, SAMPLE_RATE, 1, 8, 0)
    fact = struct.pack("<I", len(ulaw))
    data = ulaw + (b"\x00" if len(ulaw) % 2 else b"")  # RIFF chunks are word-aligned
    body = (
        b"WAVE"
        + b"fmt "
        + struct.pack("<I", len(fmt))
        + fmt
        + b"fact"
        + struct.pack("<I", len(fact))
        + fact
        + b"data"
        + struct.pack("<I", len(ulaw))
        + data
    )
    return b"RIFF" + struct.pack("<I", len(body)) + body


# ---- 24 kHz → 8 kHz (OpenAI TTS's `pcm` format is 24 kHz PCM16) --------------------------------


def _lowpass_taps(count: int, cutoff_hz: float, rate_hz: float) -> tuple[float, ...]:
    """A Hamming-windowed sinc low-pass, normalised to unity gain at DC."""
    middle = (count - 1) / 2
    taps = []
    for n in range(count):
        x = n - middle
        ideal = 2 * cutoff_hz / rate_hz if x == 0 else sin(2 * pi * cutoff_hz * x / rate_hz) / (pi * x)
        taps.append(ideal * (0.54 - 0.46 * cos(2 * pi * n / (count - 1))))
    total = sum(taps)
    return tuple(tap / total for tap in taps)


class Downsampler24kTo8k:
    """Streaming 3:1 decimator for 24 kHz PCM16 with an anti-alias FIR (cut-off 3.4 kHz, telephone band).

    Only every third output of the filter is computed (polyphase-free but equivalent for a 3:1 decimation),
    with `sum(map(mul, ...))` so the inner loop runs in C (its cost per second of audio is in
    BENCHMARKS.md). The filter history and any odd byte carry over between chunks, so chunk boundaries
    leave no click.
    """

    FACTOR = 3
    TAPS = _lowpass_taps(31, 3400.0, 24000.0)

    def __init__(self) -> None:
        self._history: list[int] = [0] * (len(self.TAPS) - 1)
        self._odd_byte = b""
        self._phase = 0  # input samples to skip before the next output sample

    def push(self, pcm24k: bytes) -> bytes:
        """Feed 24 kHz PCM16 LE bytes (any length); returns 8 kHz PCM16 LE bytes."""
        data = self._odd_byte + pcm24k
        whole = len(data) - len(data) % 2
        self._odd_byte = data[whole:]
        if not whole:
            return b""
        samples = self._history + list(memoryview(data[:whole]).cast("h"))
        taps, keep = self.TAPS, len(self.TAPS) - 1
        out = []
        # Output sample k uses the window ending at input index `end` (exclusive) in `samples`.
        mul = operator.mul
        for end in range(keep + 1 + self._phase, len(samples) + 1, self.FACTOR):
            value = round(sum(map(mul, taps, samples[end - len(taps) : end])))
            out.append(32767 if value > 32767 else -32768 if value < -32768 else value)
        consumed_to = keep + 1 + self._phase + self.FACTOR * len(out)
        self._phase = consumed_to - (len(samples) + 1)
        self._history = samples[len(samples) - keep :]
        return struct.pack(f"<{len(out)}h", *out)

    def push_ulaw(self, pcm24k: bytes) -> bytes:
        """Feed 24 kHz PCM16; returns 8 kHz μ-law, ready for Twilio."""
        return pcm16_to_ulaw(self.push(pcm24k))
