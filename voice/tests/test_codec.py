import math
import struct
import warnings
import wave
from io import BytesIO

import pytest

from voice import codec


def standard_ulaw_decode(code: int) -> int:
    """ITU-T G.711 as usually written: ((mantissa << 3) + 0x84) << exponent − 0x84, sign from bit 7."""
    inverted = ~code & 0xFF
    sign, exponent, mantissa = inverted & 0x80, (inverted >> 4) & 7, inverted & 0x0F
    value = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return -value if sign else value


def tone_pcm(freq_hz: float, seconds: float, rate: int, amplitude: int = 8000) -> bytes:
    count = int(seconds * rate)
    return struct.pack(
        f"<{count}h", *(round(amplitude * math.sin(2 * math.pi * freq_hz * n / rate)) for n in range(count))
    )


def rms(pcm: bytes) -> float:
    samples = memoryview(pcm).cast("h")
    return math.sqrt(sum(s * s for s in samples) / len(samples))


def test_decoding_matches_the_g711_formula_for_all_256_codes():
    decoded = memoryview(codec.ulaw_to_pcm16(bytes(range(256)))).cast("h").tolist()
    assert decoded == [standard_ulaw_decode(code) for code in range(256)]
    assert decoded[0xFF] == 0
    assert decoded[0x00] == -32124
    assert decoded[0x80] == 32124


def test_every_code_survives_decode_then_encode():
    codes = bytes(range(256))
    round_trip = codec.pcm16_to_ulaw(codec.ulaw_to_pcm16(codes))
    # 0x7F and 0xFF are both zero (negative and positive); the encoder writes zero as 0xFF.
    assert round_trip == codes.replace(b"\x7f", b"\xff")


def reference_audioop():
    """The stdlib's C G.711 codec, used here only as a reference: deprecated in 3.11, gone in 3.13."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return pytest.importorskip("audioop")


EVERY_SAMPLE = struct.pack("<65536h", *range(-32768, 32768))


def test_encoding_is_bit_exact_with_audioop_for_every_16_bit_sample():
    assert codec.pcm16_to_ulaw(EVERY_SAMPLE) == reference_audioop().lin2ulaw(EVERY_SAMPLE, 2)


def test_decoding_is_bit_exact_with_audioop_for_all_256_codes():
    codes = bytes(range(256))
    assert codec.ulaw_to_pcm16(codes) == reference_audioop().ulaw2lin(codes, 2)


def test_every_sample_lands_on_the_nearest_g711_level_the_14_bit_encoder_can_see():
    """G.711 puts each reconstruction level in the middle of its decision interval, so the error is at most
    half a step of the sample's segment, plus the two low bits the 14-bit encoder drops; beyond the largest
    level (±32,124) samples clip to it. Independent of audioop, so this holds where audioop is gone."""
    codes = codec.pcm16_to_ulaw(EVERY_SAMPLE)
    decoded = memoryview(codec.ulaw_to_pcm16(codes)).cast("h")
    previous = -32768
    for sample, code, level in zip(range(-32768, 32768), codes, decoded, strict=True):
        segment = (~code >> 4) & 0x07
        if abs(sample) <= 32124:
            assert abs(level - sample) <= (4 << segment) + 3, (sample, hex(code), level)
        else:
            assert abs(level) == 32124, (sample, hex(code), level)
        assert level >= previous, f"the encoder is not monotonic at {sample}"
        previous = level


def test_encode_then_decode_keeps_a_tone_within_the_g711_quantisation_error():
    pcm = tone_pcm(440, 0.1, 8000)
    restored = codec.ulaw_to_pcm16(codec.pcm16_to_ulaw(pcm))
    error = [a - b for a, b in zip(memoryview(pcm).cast("h"), memoryview(restored).cast("h"), strict=True)]
    assert max(abs(e) for e in error) <= 256  # largest step in the segments a ±8000 tone uses
    assert abs(rms(restored) - rms(pcm)) / rms(pcm) < 0.02


def test_encoding_short_inputs_and_rejecting_odd_lengths():
    assert codec.pcm16_to_ulaw(b"") == b""
    assert codec.pcm16_to_ulaw(struct.pack("<h", 0)) == b"\xff"
    with pytest.raises(ValueError, match="even number"):
        codec.pcm16_to_ulaw(b"\x00\x01\x02")


def test_reframe_keeps_the_remainder_between_chunks_and_pads_the_tail_with_silence():
    data = bytes(range(256)) * 3  # 768 bytes: four frames and a 128-byte tail
    chunks = [data[:7], data[7:300], data[300:301], data[301:]]
    frames = list(codec.reframe(chunks))
    assert [len(frame) for frame in frames] == [160] * 5
    assert b"".join(frames)[: len(data)] == data
    assert frames[-1][128:] == b"\xff" * 32


def test_reframer_reports_what_is_pending_and_flushes_nothing_when_empty():
    reframer = codec.Reframer()
    assert reframer.push(b"\x01" * 100) == []
    assert reframer.pending == 100
    assert reframer.push(b"\x02" * 60) == [b"\x01" * 100 + b"\x02" * 60]
    assert reframer.flush() is None


@pytest.mark.asyncio
async def test_areframe_frames_an_async_stream():
    async def chunks():
        for size in (50, 200, 90):
            yield b"\x10" * size

    frames = [frame async for frame in codec.areframe(chunks())]
    assert [len(frame) for frame in frames] == [160, 160, 160]  # 340 bytes: two frames and a padded tail
    assert frames[2] == b"\x10" * 20 + b"\xff" * 140


def test_ulaw_wav_is_a_pcm16_wav_that_wave_reads_back():
    ulaw = codec.pcm16_to_ulaw(tone_pcm(300, 0.2, 8000))
    with wave.open(BytesIO(codec.ulaw_wav(ulaw))) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 8000)
        assert wav.readframes(wav.getnframes()) == codec.ulaw_to_pcm16(ulaw)


def test_ulaw_wav_without_transcoding_writes_format_7_with_a_fact_chunk():
    ulaw = b"\x01\x02\x03"
    wav = codec.ulaw_wav(ulaw, transcode=False)
    assert (wav[:4], wav[8:12]) == (b"RIFF", b"WAVE")
    assert struct.unpack("<I", wav[4:8])[0] == len(wav) - 8
    format_tag, channels, rate, byte_rate, align, bits = struct.unpack("<HHIIHH", wav[20:36])
    assert (format_tag, channels, rate, byte_rate, align, bits) == (7, 1, 8000, 8000, 1, 8)
    assert wav[38:42] == b"fact"
    data_at = wav.index(b"data")
    assert struct.unpack("<I", wav[data_at + 4 : data_at + 8])[0] == 3
    assert wav[data_at + 8 : data_at + 11] == ulaw


def test_downsampler_keeps_a_voice_band_tone_and_removes_what_would_alias():
    in_band = tone_pcm(1000, 0.5, 24000)
    above = tone_pcm(6000, 0.5, 24000)  # would fold to 2 kHz without the low-pass
    kept = codec.Downsampler24kTo8k().push(in_band)
    removed = codec.Downsampler24kTo8k().push(above)
    assert len(kept) == len(in_band) // 3
    assert rms(kept[400:]) / rms(in_band) > 0.9
    assert rms(removed[400:]) / rms(above) < 0.05


def test_downsampler_gives_the_same_output_whatever_the_chunk_boundaries():
    pcm = tone_pcm(700, 0.3, 24000)
    whole = codec.Downsampler24kTo8k().push(pcm)
    streaming = codec.Downsampler24kTo8k()
    pieces = []
    for start, end in ((0, 1), (1, 7), (7, 1001), (1001, 5000), (5000, len(pcm))):  # odd byte splits too
        pieces.append(streaming.push(pcm[start:end]))
    assert b"".join(pieces) == whole


def test_downsampler_emits_ulaw_for_twilio():
    ulaw = codec.Downsampler24kTo8k().push_ulaw(tone_pcm(500, 0.06, 24000))
    assert len(ulaw) == 480
