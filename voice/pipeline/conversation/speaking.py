"""The agent's turns: started (the model's answer, a text, a cached phrase), cut by an interruption, finished
as heard; the hang-ups that follow the last words, and giving up when a provider cannot go on."""

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from monitoring.metrics import BARGE_INS
from voice.pipeline import tools as tool_specs
from voice.pipeline.agent_turns import AgentTurn
from voice.pipeline.chunker import SentenceChunker
from voice.pipeline.conversation.state import ConversationState
from voice.pipeline.fallback import GOODBYE, HOLD
from voice.pipeline.replies import GiveUp
from voice.pipeline.speaker import CannotSpeak


class Speaking(ConversationState):
    """Starts, cuts and finishes the agent's turns (one at a time: `_turn`)."""

    def _start_reply(
        self,
        speech: Callable[[AgentTurn], Any],
        *,
        reference: float,
        stt_done: float | None = None,
        endpoint: float | None = None,
        is_opener: bool = False,
        force: bool = False,
    ) -> None:
        if self._stopped or (self._ending and not force) or (self.taken_over and not force):
            return
        turn = self._agent_turns.new(reference, is_opener=is_opener)
        if endpoint is not None:
            turn.stamp("endpoint", endpoint)
        if stt_done is not None:
            turn.stamp("stt_final", stt_done)
        self._turn = turn
        self.detector.agent_speaking = True
        self.playout.resume()
        self._reply = asyncio.create_task(self._run_reply(turn, speech), name=f"reply-{turn.key}")

    async def _run_reply(self, turn: AgentTurn, speech: Callable[[AgentTurn], Any]) -> None:
        hold = asyncio.get_running_loop().call_later(self.config.hold_after_s, self._hold, turn)
        try:
            await speech(turn)
        except asyncio.CancelledError:
            raise
        except GiveUp:
            hold.cancel()
            turn.generating = False
            await self._give_up()
            return
        finally:
            hold.cancel()
        turn.generating = False
        if turn.complete():
            self._finish_agent_turn(turn)

    def _hold(self, turn: AgentTurn) -> None:
        """Nothing said yet: the callee hears the cached hold phrase rather than silence."""
        if turn.chunks or turn.cleared or self._stopped or turn.is_opener:
            return
        self.speaker.enqueue(turn, self.phrases.audio(HOLD), self.phrases.phrases[HOLD])

    # What a turn says: the model's answer, a text, or a cached phrase (each `speech` for `_start_reply`).

    async def _speak_reply(self, turn: AgentTurn) -> None:
        if terminal := await self.replies.answer(turn):
            turn.generating = False
            await self._hang_up_after(turn, transfer=terminal == tool_specs.TRANSFER)

    def _speak_text(self, text: str, *, then_hang_up: bool = False) -> Callable[[AgentTurn], Any]:
        async def speak(turn: AgentTurn) -> None:
            chunker = SentenceChunker()
            for chunk in [*chunker.push(text), *filter(None, [chunker.flush()])]:
                await self._synthesize(turn, chunk)
            self.replies.said(turn, text)
            if then_hang_up:
                turn.generating = False
                await self._hang_up_after(turn)

        return speak

    def _speak_audio(self, key: str, *, then_hang_up: bool = False) -> Callable[[AgentTurn], Any]:
        async def speak(turn: AgentTurn) -> None:
            self.speaker.enqueue(turn, self.phrases.audio(key), self.phrases.phrases[key])
            if then_hang_up:
                turn.generating = False
                await self._hang_up_after(turn)

        return speak

    async def _synthesize(self, turn: AgentTurn, text: str) -> None:
        try:
            await self.speaker.synthesize(turn, text)
        except CannotSpeak as error:
            raise GiveUp from error

    # ---- Interruptions and endings -----------------------------------------------------------------

    def _cancel_reply(self, *, interrupted: bool) -> None:
        """Stop the agent: clear the carrier's buffer, cancel the reply, keep only what was heard."""
        turn, reply = self._turn, self._reply
        if reply is not None and not reply.done() and reply is not asyncio.current_task():
            reply.cancel()
        self._reply = None
        self.playout.resume()  # a pause for a barge-in candidate ends with the decision, whatever it was
        if turn is None or turn.done.is_set():
            return
        if turn.chunks and not turn.complete():
            self._spawn(self.sender.clear())
        self.playout.clear()
        self.playout.resume()
        turn.generating = False
        turn.interrupted = interrupted and not turn.complete()
        if turn.interrupted:
            BARGE_INS.inc()
        self._finish_agent_turn(turn, cut=True)

    async def _hang_up_after(self, turn: AgentTurn, *, transfer: bool = False) -> None:
        """Let the last words be heard (their marks come back), then end or hand over the call."""
        self._ending = True
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.config.mark_timeout_s):
                while not turn.complete():
                    await asyncio.sleep(0.02 * self.context.time_scale)
        self._finish_agent_turn(turn)
        if transfer:
            result = await self.replies.run_host_tool(tool_specs.TRANSFER, {}, outcome="transferred")
            if result.ok:
                return
        await self.sender.hang_up()

    async def _give_up(self) -> None:
        """The conversation cannot go on: the cached goodbye, then a clean hang-up."""
        if self._stopped:
            return
        self.recorder.outcome = "provider_failure"
        self._cancel_reply(interrupted=False)
        self._ending = True
        self._start_reply(self._speak_audio(GOODBYE, then_hang_up=True), reference=self.loop.time(), force=True)

    def _finish_agent_turn(self, turn: AgentTurn, *, cut: bool = False) -> None:
        if turn.done.is_set():
            return
        turn.done.set()
        turn.cleared = cut and not turn.complete()
        if self._turn is turn:
            self._turn = None
            self.detector.agent_speaking = False
        text = turn.heard_text(self.playout.sent_frames, lead_frames=self.config.lead_frames)
        if cut:
            self.replies.keep_heard(turn, text)
        if text and turn.index is not None:
            self.recorder.agent_turn(turn, text)
