"""The agent's voice: text (TTS, streamed) and cached audio into the playout as marked chunks.

Each chunk's frames go to the playout as the TTS streams them (the callee hears the start of a sentence
while its end is still being synthesised), a mark after the first frame of a turn and one after every
chunk. The primary voice runs under its breaker with first-byte and idle timeouts; when it fails, the
secondary voice takes over for the rest of the call; with no voice left, `CannotSpeak`.
"""

import asyncio
from collections.abc import Callable

from voice import codec
from voice.pipeline.agent_turns import AgentTurn, Chunk
from voice.pipeline.breaker import CircuitBreaker, stream_with_timeouts
from voice.pipeline.playout import Playout
from voice.providers.base import ProviderError
from voice.providers.speech import TextToSpeech, VoiceSpec


class CannotSpeak(Exception):
    """Neither voice could say a chunk."""


class Speaker:
    def __init__(
        self,
        playout: Playout,
        tts: TextToSpeech,
        secondary: TextToSpeech | None,
        voice: VoiceSpec,
        *,
        breakers: Callable[[str], CircuitBreaker],
        first_byte_s: float,
        idle_s: float,
        allocate_index: Callable[[], int],
        on_failure: Callable[[str, str, ProviderError], None],
    ) -> None:
        self.playout = playout
        self.tts, self.secondary = tts, secondary
        self.voice = voice
        self._breaker = breakers
        self.first_byte_s, self.idle_s = first_byte_s, idle_s
        self._allocate_index = allocate_index
        self._on_failure = on_failure

    async def synthesize(self, turn: AgentTurn, text: str) -> None:
        """Say one chunk; the secondary voice takes over when the primary fails. CannotSpeak if none can."""
        while True:
            tts = self.tts
            try:
                await self._stream(turn, tts, text)
            except ProviderError as error:
                self._on_failure("tts", tts.name, error)
                if self.secondary is not None and self.secondary is not tts:
                    self.tts, self.secondary = self.secondary, None
                    continue
                raise CannotSpeak(str(error)) from error
            return

    async def _stream(self, turn: AgentTurn, tts: TextToSpeech, text: str) -> None:
        loop = asyncio.get_running_loop()
        reframer = codec.Reframer()
        chunk: Chunk | None = None
        async for piece in self._breaker(f"tts:{tts.name}").stream(
            lambda: stream_with_timeouts(
                tts.synthesize(text, self.voice),
                first_item_s=self.first_byte_s,
                idle_s=self.idle_s,
                what=f"tts:{tts.name}",
            )
        ):
            if piece:
                turn.stamp("tts_first_byte", loop.time())
            frames = reframer.push(piece)
            if frames:
                chunk = chunk or self._open(turn, text)
                self._push(turn, chunk, frames)
        tail = reframer.flush()
        if tail is not None:
            chunk = chunk or self._open(turn, text)
            self._push(turn, chunk, [tail])
        if chunk is not None:
            self._close(turn, chunk)

    def enqueue(self, turn: AgentTurn, audio: bytes, text: str) -> None:
        """Queue ready audio (a cached phrase) as one chunk."""
        frames = list(codec.reframe([audio]))
        if frames:
            chunk = self._open(turn, text)
            self._push(turn, chunk, frames)
            self._close(turn, chunk)

    def _open(self, turn: AgentTurn, text: str) -> Chunk:
        if turn.index is None:
            turn.index = self._allocate_index()  # the transcript position: when the agent starts to be heard
        chunk = Chunk(f"{turn.key}:{len(turn.chunks)}", text, 0)
        turn.chunks.append(chunk)
        return chunk

    def _push(self, turn: AgentTurn, chunk: Chunk, frames: list[bytes]) -> None:
        if turn.cleared or turn.done.is_set():
            return
        first = chunk.frames == 0 and len(turn.chunks) == 1
        chunk.frames += len(frames)
        self.playout.enqueue(frames, tag=chunk.mark, start_mark=f"{turn.key}:start" if first else None)

    def _close(self, turn: AgentTurn, chunk: Chunk) -> None:
        chunk.closed = True
        if not (turn.cleared or turn.done.is_set()):
            self.playout.enqueue([], tag=chunk.mark, mark=chunk.mark)
