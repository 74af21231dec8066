"""Load generator for bench_webhooks (run in its own process, pinned to its own core).

Reads requests (path, body, signature) as JSON lines from a file and sends them over HTTP/1.1
keep-alive connections to 127.0.0.1:PORT, either closed loop (N in flight, as fast as answers come:
throughput) or open loop (a fixed offered rate; latency is measured from each request's scheduled
time, so a stalled server cannot hide its queue — no coordinated omission). Prints one JSON object.
"""

import argparse
import asyncio
import json
import sys
import time


def build(port: int, path: str, body: str, signature: str) -> bytes:
    payload = body.encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(payload)}\r\nX-Twilio-Signature: {signature}\r\n\r\n"
    )
    return head.encode() + payload


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        length = int(headers.get("content-length", "0"))
        if length:
            await reader.readexactly(length)
    return status


class Connection:
    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self, request: bytes) -> int:
        for attempt in range(2):
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            try:
                self.writer.write(request)
                await self.writer.drain()
                return await read_response(self.reader)
            except (ConnectionError, asyncio.IncompleteReadError):
                self.writer = None  # the server closed a kept-alive connection: reconnect once
                if attempt:
                    raise
        raise AssertionError("unreachable")


async def closed_loop(port: int, requests: list[bytes], concurrency: int, seconds: float) -> dict:
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    queue = iter(requests)
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        connection = Connection(port)
        for request in queue:
            if time.perf_counter() > deadline:
                return
            started = time.perf_counter()
            status = await connection.send(request)
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {"sent": len(latencies), "elapsed": elapsed, "latencies": latencies, "statuses": statuses}


async def open_loop(port: int, requests: list[bytes], rate: float, seconds: float, connections: int) -> dict:
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(Connection(port))
    count = min(len(requests), int(rate * seconds))
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05

    async def one(index: int, request: bytes) -> None:
        scheduled = start + index / rate
        await asyncio.sleep(max(0.0, scheduled - loop.time()))
        connection = await idle.get()
        try:
            status = await connection.send(request)
        finally:
            idle.put_nowait(connection)
        latencies.append(loop.time() - scheduled)
        statuses[status] = statuses.get(status, 0) + 1

    await asyncio.gather(*(one(i, r) for i, r in enumerate(requests[:count])))
    return {"sent": count, "elapsed": loop.time() - start, "latencies": latencies, "statuses": statuses}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--requests", required=True, help="JSON lines: [path, body, signature]")
    parser.add_argument("--mode", choices=["closed", "open"], required=True)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=float, default=200.0)
    args = parser.parse_args()
    with open(args.requests) as lines:
        requests = [build(args.port, *json.loads(line)) for line in lines]
    if args.mode == "closed":
        result = asyncio.run(closed_loop(args.port, requests, args.concurrency, args.seconds))
    else:
        result = asyncio.run(open_loop(args.port, requests, args.rate, args.seconds, args.concurrency * 4))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
