"""Load generator for bench_voice_calls: N Twilio callers in one process (pinned to its own core).

Each caller opens the call's media WebSocket and speaks the Media Streams protocol as Twilio does:
`connected`, `start` (the call's media token and its caller script in `customParameters`), then one
20 ms μ-law `media` frame every 20 ms on an absolute schedule — the caller's words, silence otherwise —
while it "plays" our audio at real time and echoes each `mark` once the frames queued before it have
played. Per turn: wait until the agent has finished talking, say a line, fall silent; the turn ends at
the frame after which the endpointer must declare it over (found by running the same `TurnDetector` over
the same audio here), and the first agent frame to arrive after that frame was sent ends the latency.
After the last turn, `stop`. Prints one JSON object (per-turn client-side timings, tick lateness, errors).
`--duplex SECONDS`: no script; each caller sends its frames and echoes marks for that long, then `stop`
(the load for the server's own ceiling, bench/voice_ceiling_asgi.py).

`--espeak` says the espeak-ng phrases of voice/tests/fixtures/speech instead of synthetic words, and
`--noise-dbfs X` puts steady white noise at X dBFS on the whole line (bench/bench_vad_capacity.py); with
`--close-after-stop` the caller closes the socket after its `stop`, as Twilio does (a server that ignores
`stop` is not waited for). Beside the endpointer-based figure, each turn also gets `reply_ms`: from the
caller's last frame of speech sent to the first agent frame received, whoever's endpointer it is; and every
agent frame its lateness at the caller: how far behind the best schedule of its burst (its arrival minus the
audio before it in the burst, against the earliest such) it came — a stall of the server shows there,
whatever its frame size or lead.
"""

import argparse
import asyncio
import base64
import json
import random
import resource
import sys
import time
import zlib
from collections import deque

import websockets

from voice import codec, media_streams
from voice.pipeline.turn_taking import SpeechEnded, TurnDetector
from voice.synthetic_audio import speech_like_ulaw

SILENCE = bytes([codec.ULAW_SILENCE]) * codec.FRAME_BYTES
SILENCE_B64 = base64.b64encode(SILENCE).decode()
MEDIA_PREFIX = '{"event": "media"'  # how our server's outbound media messages begin
IDLE_S = 0.4  # the agent is done when nothing has played for this long
CALL_TIMEOUT_S = 90.0
LINES = ("Okay, that sounds good to me.", "Yes, I wanted to ask about the price.", "Alright, I understand that now.")


BURST_GAP_S = 0.25  # agent frames further apart than this begin a new burst (for their lateness)


def endpoint_frame(frames: list[bytes], line: list[bytes] | None = None) -> int:
    """Index (within `frames` followed by the line) of the frame after which the endpointer fires."""
    line = line or [SILENCE]
    detector = TurnDetector()
    for index in range(250):
        detector.feed(line[index % len(line)])
    for index in range(len(frames) + 200):
        frame = frames[index] if index < len(frames) else line[index % len(line)]
        if any(isinstance(event, SpeechEnded) for event in detector.feed(frame)):
            return index
    raise RuntimeError("the endpointer never fired")


def noise_frames(dbfs: float, count: int = 250) -> list[bytes]:
    """`count` frames of white noise at `dbfs` (the line when nobody speaks; reused in turn)."""
    from voice.line_conditions import to_ulaw, white_noise

    noise = white_noise(count * codec.FRAME_BYTES, dbfs, seed=3)
    return [to_ulaw(noise[i * codec.FRAME_BYTES : (i + 1) * codec.FRAME_BYTES]) for i in range(count)]


def spoken_frames(noise: list[bytes]) -> list[list[bytes]]:
    """The espeak-ng phrases as frames, each over the line's noise (if any)."""
    from voice.line_conditions import phrases, to_linear, to_ulaw

    utterances = []
    for audio in phrases().values():
        padded = audio + bytes([codec.ULAW_SILENCE]) * (-len(audio) % codec.FRAME_BYTES)
        frames = [padded[i : i + codec.FRAME_BYTES] for i in range(0, len(padded), codec.FRAME_BYTES)]
        if noise:
            frames = [to_ulaw(to_linear(f) + to_linear(noise[i % len(noise)])) for i, f in enumerate(frames)]
        utterances.append(frames)
    return utterances


class Caller:
    def __init__(self, port: int, call: dict, turns: int, utterances: list[tuple[list[str], int]]) -> None:
        self.url = f"ws://127.0.0.1:{port}/ws/twilio/media/{call['id']}/"
        self.call = call
        self.turns = turns
        self.utterances = utterances
        self.stream_sid = "MZ" + call["id"].replace("-", "")
        self.inbound: deque[str] = deque()  # the caller's words: base64 frames waiting to be sent
        self.endpoint_at: int | None = None  # how many more inbound frames until the endpointing one
        self.playback: deque[int | str] = deque()  # frames (as counts) and marks, in the order they came
        self.last_played = 0.0
        self.received = 0
        self.waiting_since: float | None = None  # endpointing frame sent, first reply frame not yet seen
        self.results: list[dict] = []
        self.lateness: list[float] = []
        self.error = ""
        self.sequence = 0
        self.line: list[str] = [SILENCE_B64]  # what is sent when nobody speaks (base64 frames, in turn)
        self.speech_left = 0  # frames of the caller's words still to send
        self.speech_ended_at: float | None = None  # their last frame sent, the reply's first frame not yet seen
        self.burst_at = -1.0  # the agent's frames: when the last one arrived, the audio since its burst began,
        self.burst_audio_s = 0.0  # and the earliest (arrival − audio before it) of the burst
        self.burst_best = 0.0
        self.frame_lateness: list[tuple[float, float]] = []  # (arrival, lateness) of each agent frame
        self.close_after_stop = False
        self.connected_at = 0.0

    def seq(self) -> int:
        self.sequence += 1
        return self.sequence

    async def run(self, start_at: float) -> None:
        await asyncio.sleep(max(0.0, start_at - time.monotonic()))
        try:
            async with websockets.connect(self.url, compression=None, max_size=2**20, open_timeout=30) as ws:
                self.ws = ws
                self.connected_at = time.monotonic()
                await ws.send(media_streams.connected_message())
                await ws.send(
                    media_streams.start_message(
                        sequence_number=self.seq(), stream_sid=self.stream_sid, account_sid="AC" + "0" * 32,
                        call_sid=self.call["sid"],
                        custom_parameters={"token": self.call["token"], "caller_script": "|".join(LINES)},
                    )
                )  # fmt: skip
                tasks = [asyncio.create_task(self._pace()), asyncio.create_task(self._read())]
                try:
                    # A call that stalls (no opener, a turn never answered) is an error, not a hung run.
                    await asyncio.wait_for(self._script(), timeout=CALL_TIMEOUT_S)
                finally:
                    for task in tasks:
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
                await ws.send(
                    media_streams.stop_message(
                        sequence_number=self.seq(), stream_sid=self.stream_sid, account_sid="AC" + "0" * 32,
                        call_sid=self.call["sid"],
                    )
                )  # fmt: skip
                if self.close_after_stop:
                    await ws.close()  # as Twilio does after its `stop`
                else:
                    await asyncio.wait_for(ws.wait_closed(), timeout=30)
        except Exception as error:  # reported, counted, never fatal to the other callers
            self.error = f"{type(error).__name__}: {error}"

    async def _pace(self) -> None:
        loop = asyncio.get_running_loop()
        started, tick = loop.time(), 0
        while True:
            tick += 1
            payload = self.inbound.popleft() if self.inbound else self.line[tick % len(self.line)]
            if self.speech_left:
                self.speech_left -= 1
                if not self.speech_left:
                    self.speech_ended_at = time.monotonic()
            # Twilio's media message, formatted from a template: the callers must stay cheap (one core, N of them).
            await self.ws.send(
                f'{{"event": "media", "sequenceNumber": "{self.seq()}", "streamSid": "{self.stream_sid}", '
                f'"media": {{"track": "inbound", "chunk": "{tick}", "timestamp": "{tick * 20}", '
                f'"payload": "{payload}"}}}}'
            )
            if self.endpoint_at is not None:
                if self.endpoint_at == 0:
                    self.endpoint_at, self.waiting_since = None, time.monotonic()
                else:
                    self.endpoint_at -= 1
            await self._play()
            due = started + tick * codec.FRAME_MS / 1000
            self.lateness.append(loop.time() - (due - codec.FRAME_MS / 1000))
            await asyncio.sleep(max(0.0, due - loop.time()))

    async def _play(self) -> None:
        """20 ms of our audio plays; marks with nothing unplayed before them are echoed."""
        played = False
        while self.playback:
            item = self.playback[0]
            if isinstance(item, str):
                self.playback.popleft()
                await self.ws.send(
                    media_streams.mark_echo_message(sequence_number=self.seq(), stream_sid=self.stream_sid, name=item)
                )
            elif played:
                break
            else:
                self.playback.popleft()
                played = True
        if played:
            self.last_played = time.monotonic()

    async def _read(self) -> None:
        async for text in self.ws:
            if text.startswith(MEDIA_PREFIX):  # the bulk of what arrives: no JSON parsing for it
                now = time.monotonic()
                self.received += 1
                self._late(now, text)
                if self.waiting_since is not None:
                    self.results[-1]["client_ms"] = (now - self.waiting_since) * 1000
                    self.waiting_since = None
                if self.speech_ended_at is not None:
                    self.results[-1]["reply_ms"] = (now - self.speech_ended_at) * 1000
                    self.speech_ended_at = None
                self.playback.append(1)
                self.last_played = now
                continue
            message = json.loads(text)
            if message["event"] == "mark":
                self.playback.append(message["mark"]["name"])
            elif message["event"] == "clear":
                self.error = self.error or "unexpected clear"

    def _late(self, now: float, text: str) -> None:
        """This agent frame's lateness against the best schedule of its burst (see the module docstring)."""
        start = text.find('"payload": "') + len('"payload": "')
        audio_s = (text.find('"', start) - start) * 3 / 4 / codec.SAMPLE_RATE  # μ-law: a byte a sample
        if now - self.burst_at > BURST_GAP_S:
            self.burst_audio_s, self.burst_best = 0.0, now
        self.burst_at = now
        due = now - self.burst_audio_s
        self.burst_best = min(self.burst_best, due)
        self.frame_lateness.append((now, due - self.burst_best))
        self.burst_audio_s += audio_s

    async def _agent_done(self) -> None:
        while self.playback or time.monotonic() - self.last_played < IDLE_S:
            await asyncio.sleep(0.05)

    async def _script(self) -> None:
        deadline = time.monotonic() + 15
        while not self.received:
            if time.monotonic() > deadline:
                self.error = self.error or "no opener"
                return
            await asyncio.sleep(0.05)
        await self._agent_done()  # the opener
        rng = random.Random(self.call["id"])
        for turn in range(self.turns):
            await asyncio.sleep(rng.uniform(0.1, 0.5))
            frames, endpoint = self.utterances[turn % len(self.utterances)]
            self.results.append({"turn": turn, "client_ms": None, "reply_ms": None})
            self.inbound.extend(frames)
            self.speech_left = len(self.inbound)
            self.endpoint_at = endpoint + len(self.inbound) - len(frames)
            deadline = time.monotonic() + 15
            while self.speech_left or self.speech_ended_at is not None:
                if time.monotonic() > deadline:
                    self.error = self.error or f"no reply to turn {turn}"
                    return
                await asyncio.sleep(0.02)
            await self._agent_done()


class DuplexCaller(Caller):
    """Frames in and marks echoed for `duplex_s`, whatever the server says."""

    def __init__(self, *args: object, duplex_s: float) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.duplex_s = duplex_s

    async def _script(self) -> None:
        await asyncio.sleep(self.duplex_s)


async def run(
    port: int,
    calls: list[dict],
    turns: int,
    stagger_s: float,
    duplex_s: float = 0.0,
    *,
    espeak: bool = False,
    noise_dbfs: float | None = None,
    close_after_stop: bool = False,
) -> dict:
    noise = noise_frames(noise_dbfs) if noise_dbfs is not None else []
    synthetic = [[bytes(f) for f in codec.reframe([speech_like_ulaw(line)])] for line in LINES]
    spoken = spoken_frames(noise) if espeak else synthetic
    utterances = [
        ([base64.b64encode(frame).decode() for frame in frames], endpoint_frame(frames, noise)) for frames in spoken
    ]
    line = [base64.b64encode(frame).decode() for frame in noise] or [SILENCE_B64]
    callers = [
        DuplexCaller(port, call, turns, utterances, duplex_s=duplex_s)
        if duplex_s
        else Caller(port, call, turns, utterances)
        for call in calls
    ]
    for caller in callers:
        caller.close_after_stop = close_after_stop
        offset = zlib.crc32(caller.call["id"].encode()) % len(line)
        caller.line = line[offset:] + line[:offset]  # each caller's line its own stretch of the noise
    rng = random.Random(7)
    begin = time.monotonic() + 0.2
    start_usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_start = start_usage.ru_utime + start_usage.ru_stime
    started = time.monotonic()
    await asyncio.gather(*(caller.run(begin + rng.uniform(0, stagger_s)) for caller in callers))
    lateness = sorted(x for caller in callers for x in caller.lateness)
    frame_lateness = sorted(late for caller in callers for _, late in caller.frame_lateness)
    all_in = max((caller.connected_at for caller in callers), default=0.0) + 1.0  # every call started, a second on
    steady = sorted(late for caller in callers for at, late in caller.frame_lateness if at > all_in)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "elapsed_s": time.monotonic() - started,
        "turns": [{"call": caller.call["id"], **result} for caller in callers for result in caller.results],
        "errors": [f"{caller.call['id']}: {caller.error}" for caller in callers if caller.error],
        "frames_received": sum(caller.received for caller in callers),
        "tick_lateness_ms": {
            "p50": lateness[len(lateness) // 2] * 1000 if lateness else None,
            "p99": lateness[int(len(lateness) * 0.99)] * 1000 if lateness else None,
        },
        "cpu_share": (usage.ru_utime + usage.ru_stime - cpu_start) / (time.monotonic() - started),
        "agent_frames_late_ms": {
            "frames": len(frame_lateness),
            "p50": frame_lateness[len(frame_lateness) // 2] * 1000 if frame_lateness else None,
            "p99": frame_lateness[int(len(frame_lateness) * 0.99)] * 1000 if frame_lateness else None,
            "over_10ms": sum(x > 0.01 for x in frame_lateness) / max(1, len(frame_lateness)),
        },
        "agent_frames_late_once_all_in_ms": {
            "frames": len(steady),
            "p99": steady[int(len(steady) * 0.99)] * 1000 if steady else None,
            "over_10ms": sum(x > 0.01 for x in steady) / max(1, len(steady)),
        },
        "utterance_frames": [len(frames) for frames, _ in utterances],
        "endpoint_frames": [endpoint for _, endpoint in utterances],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--calls", required=True, help="JSON file: [{id, sid, token}, …]")
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--stagger", type=float, default=2.0)
    parser.add_argument("--duplex", type=float, default=0.0, help="seconds of frames, no script")
    parser.add_argument("--espeak", action="store_true", help="say the espeak-ng phrases")
    parser.add_argument("--noise-dbfs", type=float, default=None, help="white noise on the line")
    parser.add_argument("--close-after-stop", action="store_true", help="close the socket after `stop`")
    args = parser.parse_args()
    with open(args.calls) as handle:
        calls = json.load(handle)
    options = {"espeak": args.espeak, "noise_dbfs": args.noise_dbfs, "close_after_stop": args.close_after_stop}
    json.dump(asyncio.run(run(args.port, calls, args.turns, args.stagger, args.duplex, **options)), sys.stdout)


if __name__ == "__main__":
    main()
