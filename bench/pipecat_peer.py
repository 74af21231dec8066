"""The peer of bench_vad_capacity: a Pipecat bot with Silero VAD, serving Twilio media streams (its own venv).

Run by the benchmark with the interpreter of a separate virtualenv that has `pipecat-ai[silero,websocket]`
and uvicorn (BENCH_PIPECAT_PYTHON; never the project's venv: Pipecat is not a dependency of Callwright). Built
only from Pipecat's public API, as its Twilio examples are: FastAPI's WebSocket, `TwilioFrameSerializer`,
`FastAPIWebsocketTransport`, a `VADProcessor` with `SileroVADAnalyzer` (8 kHz, stop after `--stop-secs` of
silence, as our endpointer's), and a bot that plays a fixed reply each time the VAD says the caller stopped —
an echo bot with no STT, LLM or TTS, like our server with its simulated providers answering at once. The opener
and the reply are the same synthetic audio our simulated TTS makes (PCM16 files the benchmark writes).

    python bench/pipecat_peer.py --port P --opener opener.pcm --reply reply.pcm [--stop-secs 0.6]
"""

import argparse
import json
import sys

import uvicorn
from fastapi import FastAPI, WebSocket
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.frames.frames import Frame, OutputAudioRawFrame, VADUserStoppedSpeakingFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.audio.vad_processor import VADProcessor
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.serializers.twilio import TwilioFrameSerializer
from pipecat.transports.websocket.fastapi import FastAPIWebsocketParams, FastAPIWebsocketTransport
from pipecat.workers.runner import WorkerRunner

RATE = 8000
app = FastAPI()
AUDIO: dict[str, bytes] = {}
STOP_SECS = [0.6]


class ReplyBot(FrameProcessor):
    """Says the fixed reply whenever the VAD says the caller stopped speaking."""

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)
        if isinstance(frame, VADUserStoppedSpeakingFrame):
            await self.push_frame(OutputAudioRawFrame(audio=AUDIO["reply"], sample_rate=RATE, num_channels=1))


@app.websocket("/ws/twilio/media/{call_id}/")
async def media(websocket: WebSocket, call_id: str) -> None:
    await websocket.accept()
    start: dict = {}
    while start.get("event") != "start":  # `connected`, then `start`
        start = json.loads(await websocket.receive_text())
    serializer = TwilioFrameSerializer(
        start["start"]["streamSid"],
        call_sid=start["start"]["callSid"],
        params=TwilioFrameSerializer.InputParams(auto_hang_up=False),
    )
    transport = FastAPIWebsocketTransport(
        websocket,
        FastAPIWebsocketParams(audio_in_enabled=True, audio_out_enabled=True, add_wav_header=False,
                               serializer=serializer),
    )  # fmt: skip
    vad = VADProcessor(vad_analyzer=SileroVADAnalyzer(sample_rate=RATE, params=VADParams(stop_secs=STOP_SECS[0])))
    pipeline = Pipeline([transport.input(), vad, ReplyBot(), transport.output()])
    task = PipelineWorker(
        pipeline, params=PipelineParams(audio_in_sample_rate=RATE, audio_out_sample_rate=RATE), idle_timeout_secs=None
    )

    @transport.event_handler("on_client_connected")
    async def opener(_transport, _websocket) -> None:
        await task.queue_frames([OutputAudioRawFrame(audio=AUDIO["opener"], sample_rate=RATE, num_channels=1)])

    @transport.event_handler("on_client_disconnected")
    async def gone(_transport, _websocket) -> None:
        await task.cancel()

    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(task)
    await runner.run()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--opener", required=True)
    parser.add_argument("--reply", required=True)
    parser.add_argument("--stop-secs", type=float, default=0.6)
    args = parser.parse_args()
    for key in ("opener", "reply"):
        with open(getattr(args, key), "rb") as handle:
            AUDIO[key] = handle.read()
    STOP_SECS[0] = args.stop_secs
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    # As the project is served (config.server): uvloop, httptools, websockets-sansio, no compression.
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", loop="uvloop", http="httptools",
                ws="websockets-sansio", ws_per_message_deflate=False)  # fmt: skip


if __name__ == "__main__":
    main()
