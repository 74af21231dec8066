"""The ceiling beside bench_voice_calls: a bare asyncio process pacing N calls' outbound frames.

`--sink`: accept TCP connections on 127.0.0.1:PORT and discard what arrives (run on the other core).
Otherwise: N `voice.pipeline.playout.Playout`s — the product's pacing, unchanged — each with
`SECONDS` of audio queued and starting at a random phase within the first 20 ms × 50, each frame
turned into the same `media` JSON message (base64) and written to its own socket to the sink.
No Django, no ASGI server, no inbound audio, no STT/LLM/TTS: what is left is the event loop's own jitter
at N × 50 frames/s on this core, read from the same `callwright_playout_lag_seconds` histogram.
Prints {"buckets": {le: count}, "count": n, "sum": s, "cpu_s": …} as JSON.
"""

import argparse
import asyncio
import json
import random
import resource
import sys

from voice import codec, media_streams

FRAME = bytes([codec.ULAW_SILENCE]) * codec.FRAME_BYTES


async def sink(port: int) -> None:
    async def drain(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(1 << 16):
            pass
        writer.close()

    server = await asyncio.start_server(drain, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


class SocketSender:
    def __init__(self, writer: asyncio.StreamWriter, stream_sid: str) -> None:
        self.writer, self.stream_sid = writer, stream_sid

    async def send_audio(self, payload: bytes) -> None:
        self.writer.write(media_streams.media_message(self.stream_sid, payload).encode())

    async def send_mark(self, name: str) -> None:
        self.writer.write(media_streams.mark_message(self.stream_sid, name).encode())

    async def clear(self) -> None:
        pass

    async def hang_up(self) -> None:
        pass


async def pace(port: int, calls: int, seconds: float) -> dict:
    from monitoring.metrics import PLAYOUT_LAG
    from voice.pipeline.playout import Playout

    rng = random.Random(3)
    connections = [await asyncio.open_connection("127.0.0.1", port) for _ in range(calls)]
    playouts = [Playout(SocketSender(writer, f"MZ{i}")) for i, (_, writer) in enumerate(connections)]

    async def one(playout: Playout) -> None:
        await asyncio.sleep(rng.uniform(0, 1.0))
        playout.start()
        playout.enqueue([FRAME] * int(seconds * 50), tag="audio", mark="end")
        await playout.drained()
        await playout.close()

    before = resource.getrusage(resource.RUSAGE_SELF)
    await asyncio.gather(*(one(playout) for playout in playouts))
    after = resource.getrusage(resource.RUSAGE_SELF)
    for _, writer in connections:
        writer.close()
    buckets: dict[str, float] = {}
    count = total = 0.0
    for metric in PLAYOUT_LAG.collect():
        for sample in metric.samples:
            if sample.name.endswith("_bucket"):
                buckets[sample.labels["le"]] = sample.value
            elif sample.name.endswith("_count"):
                count = sample.value
            elif sample.name.endswith("_sum"):
                total = sample.value
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return {"buckets": buckets, "count": count, "sum": total, "cpu_s": cpu, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--sink", action="store_true")
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    if args.sink:
        asyncio.run(sink(args.port))
        return
    json.dump(asyncio.run(pace(args.port, args.calls, args.seconds)), sys.stdout)


if __name__ == "__main__":
    main()
