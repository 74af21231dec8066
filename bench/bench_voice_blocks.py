"""Voice building blocks: what one core spends per 20 ms frame, beside audioop (the C codec, the ceiling).

1. G.711 codec: decode + encode of one 160-byte frame (our lookup tables in pure Python) beside
   `audioop.ulaw2lin` + `audioop.lin2ulaw` — deprecated in 3.11, gone in 3.13, but the natural C peer.
2. Turn-taking: `TurnDetector.feed` per inbound frame (decode, level gate, webrtcvad, endpointing) on a
   realistic stream (speech, pauses, silence) beside the floor: audioop decode + bare `webrtcvad.is_speech`.
3. What an inbound frame costs a call (decode for the VAD is inside the detector; ElevenLabs audio goes
   out as μ-law untouched) → how many concurrent calls' worth of frames one core handles (50 frames/s each).
4. Sentence chunker throughput (LLM deltas of ~4 characters) and the 24k → 8k downsampler for the secondary voice.

All single-threaded in this process (one core); medians over REPEATS runs.
"""

import os
import time
import warnings
from collections.abc import Callable

import webrtcvad

from bench.harness import Figure, median, write_result
from voice import codec
from voice.pipeline.chunker import SentenceChunker
from voice.pipeline.turn_taking import TurnDetector
from voice.synthetic_audio import silence_ulaw, speech_like_pcm, speech_like_ulaw

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

REPEATS = int(os.environ.get("BENCH_REPEATS", "5"))
N = 20000  # calls per timing loop
FRAMES_PER_SECOND = 1000 // codec.FRAME_MS
REPLY = (
    "Hi Maria, this is Ava, an automated assistant from Acme Dental. I'm calling about your appointment on "
    "Tuesday at 3:30 p.m. with Dr. Lee. The co-pay is $25.50, e.g. by card or cash. Does that still work for "
    "you? If not, I can move it to another day, or have someone call you back. "
)


def per_call_us(operation: Callable[[], object], count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        operation()
    return (time.perf_counter() - started) / count * 1e6


def conversation_frames() -> list[bytes]:
    """About 12 s of caller audio: speech, short pauses, long silences — what a callee's line carries."""
    audio = (
        silence_ulaw(1000)
        + speech_like_ulaw("Yes this is Maria speaking.")
        + silence_ulaw(900)
        + speech_like_ulaw("Actually I was going to call you about that")
        + silence_ulaw(400)
        + speech_like_ulaw("can we move it to Thursday")
        + silence_ulaw(2500)
    )
    return list(codec.reframe([audio]))


def measure_codec() -> tuple[list[float], list[float]]:
    frame = codec.pcm16_to_ulaw(speech_like_pcm("hello there")[: codec.PCM_FRAME_BYTES])
    pcm = codec.ulaw_to_pcm16(frame)
    ours, peer = [], []
    for _ in range(REPEATS):
        decode, encode = (
            per_call_us(lambda: codec.ulaw_to_pcm16(frame), N),
            per_call_us(lambda: codec.pcm16_to_ulaw(pcm), N),
        )
        ours.append(decode + encode)
        decode, encode = (
            per_call_us(lambda: audioop.ulaw2lin(frame, 2), N),
            per_call_us(lambda: audioop.lin2ulaw(pcm, 2), N),
        )
        peer.append(decode + encode)
    return ours, peer


def measure_turn_taking(frames: list[bytes]) -> tuple[list[float], list[float]]:
    ours, floor = [], []
    for _ in range(REPEATS):
        detector = TurnDetector()
        started = time.perf_counter()
        for _ in range(5):
            for frame in frames:
                detector.feed(frame)
        ours.append((time.perf_counter() - started) / (5 * len(frames)) * 1e6)
        vad = webrtcvad.Vad(2)
        started = time.perf_counter()
        for _ in range(5):
            for frame in frames:
                vad.is_speech(audioop.ulaw2lin(frame, 2), codec.SAMPLE_RATE)
        floor.append((time.perf_counter() - started) / (5 * len(frames)) * 1e6)
    return ours, floor


def measure_chunker() -> list[float]:
    text = REPLY * 20
    deltas = [text[i : i + 4] for i in range(0, len(text), 4)]
    rates = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        chunker = SentenceChunker()
        for delta in deltas:
            chunker.push(delta)
        chunker.flush()
        rates.append(len(deltas) / (time.perf_counter() - started))
    return rates


def measure_downsampler() -> list[float]:
    one_second = speech_like_pcm(REPLY)[: 2 * 8000] * 3  # 1 s at 24 kHz
    costs = []
    for _ in range(REPEATS):
        downsampler = codec.Downsampler24kTo8k()
        started = time.perf_counter()
        for offset in range(0, len(one_second), 4800):
            downsampler.push_ulaw(one_second[offset : offset + 4800])
        costs.append((time.perf_counter() - started) * 1000)
    return costs


def main() -> None:
    codec_ours, codec_peer = measure_codec()
    frames = conversation_frames()
    vad_ours, vad_floor = measure_turn_taking(frames)
    chunker = measure_chunker()
    downsampler = measure_downsampler()

    inbound_us = vad_ours  # the detector decodes each frame itself: this is the whole inbound cost
    calls_per_core = [1e6 / (FRAMES_PER_SECOND * us) for us in inbound_us]
    floor_calls = [1e6 / (FRAMES_PER_SECOND * us) for us in vad_floor]
    frames_per_s = [1e6 / us for us in codec_ours]
    peer_frames_per_s = [1e6 / us for us in codec_peer]
    figures = [
        Figure("μ-law decode + encode per 20 ms frame", "µs", median(codec_ours), codec_ours,
               "audioop (C, deprecated)", median(codec_peer), higher_is_better=False),
        Figure("μ-law decode + encode throughput, one core", "frames/s", median(frames_per_s), frames_per_s,
               "audioop (C, deprecated)", median(peer_frames_per_s),
               "≥ 5,000 frames/s (100 calls × 50 frames/s)", median(frames_per_s) >= 5000),
        Figure("VAD + endpointing per inbound frame (decode included)", "µs", median(vad_ours), vad_ours,
               "audioop decode + bare webrtcvad", median(vad_floor), higher_is_better=False),
        Figure("calls whose inbound frames one core can process", "calls", median(calls_per_core), calls_per_core,
               "audioop + bare webrtcvad", median(floor_calls), "≥ 200 calls (100 calls in ≤ 50% of a core)",
               median(calls_per_core) >= 200),
        Figure("sentence chunker throughput (4-character deltas)", "deltas/s", median(chunker), chunker,
               target="≫ 100 deltas/s per call (LLM output rate)", met=median(chunker) >= 100 * 100),
        Figure("24 kHz → 8 kHz μ-law downsampler (secondary voice)", "ms CPU per s of audio", median(downsampler),
               downsampler, target="< 50 ms per s", met=median(downsampler) < 50, higher_is_better=False),
    ]  # fmt: skip
    notes = (
        f"{len(frames)} frames (~{len(frames) * 20 / 1000:.0f} s) of synthetic caller audio with speech, pauses and "
        f"silence, replayed 5× per repeat; {REPEATS} repeats; single thread. Our codec is pure Python on lookup "
        "tables (bytes.translate for decode, a 65,536-entry table for encode); audioop is C. Outbound ElevenLabs "
        "audio is ulaw_8000 and is not transcoded, so the per-call inbound cost above is the codec+VAD cost a call "
        "adds. Calls per core = 1e6 / (50 frames/s × µs per frame)."
    )
    write_result("voice_blocks", "Voice building blocks (codec, VAD, chunker)", figures, notes)
    for figure in figures:
        peer = f" | {figure.peer_name}: {figure.peer:,.2f}" if figure.peer is not None else ""
        print(f"{figure.metric}: {figure.ours:,.2f} {figure.unit}{peer}")


if __name__ == "__main__":
    main()
