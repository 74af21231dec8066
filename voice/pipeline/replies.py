"""The agent's answer to a turn: LLM rounds streamed sentence by sentence into the voice, and the tools the
model calls, vetted and run between rounds — plus the history the model sees.

A round streams the model's reply through its circuit breaker with first-token and idle timeouts; each
sentence the chunker completes is spoken at once (the callee hears the first sentence while the model
writes the second). Tool calls are collected during the round and run after it, their results added for
the next round; a round of tools only (an outcome recorded, a refused call) lets the model go on, up to
`max_tool_rounds`. A terminal tool (end call, opt out, transfer) ends the answer: `answer` returns its name
and the session hangs up, or hands over, once the last words are heard. A provider failure that leaves
nothing to say it with raises `GiveUp`.

The history is the conversation as the callee heard it: `keep_heard` rewrites a cut turn's message.
"""

import asyncio
import functools
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

from voice.languages import with_language_instructions
from voice.phrases import Phrases
from voice.pipeline import tools as tool_specs
from voice.pipeline.agent_turns import AgentTurn
from voice.pipeline.breaker import CircuitBreaker, stream_with_timeouts
from voice.pipeline.call_record import CallRecorder
from voice.pipeline.chunker import SentenceChunker
from voice.pipeline.host import ConversationContext, ConversationHost, ToolResult
from voice.pipeline.templating import render
from voice.providers.base import ProviderError
from voice.providers.speech import ChatMessage, LanguageModel, ReplyRequest, TextDelta, ToolCall, Usage


def goodbyes(phrases: Phrases) -> dict[str, str]:
    """Said when the model ends the call with a tool and no words of its own (in the call's language)."""
    return {tool_specs.END_CALL: phrases.goodbye, tool_specs.OPT_OUT: phrases.opted_out,
            tool_specs.TRANSFER: phrases.transfer}  # fmt: skip


class GiveUp(Exception):
    """Raised inside a reply when a provider failure leaves nothing to say it with."""


class ReplyRounds:
    """One per call. `speak(turn, sentence)` says a sentence (raising GiveUp when no voice can)."""

    def __init__(
        self,
        context: ConversationContext,
        llm: LanguageModel,
        host: ConversationHost,
        recorder: CallRecorder,
        *,
        speak: Callable[[AgentTurn, str], Awaitable[None]],
        clock: Callable[[], float],
        breakers: Callable[[str], CircuitBreaker],
        first_token_s: float,
        idle_s: float,
        max_rounds: int,
    ) -> None:
        self.context, self.llm, self.host, self.recorder = context, llm, host, recorder
        self.history: list[ChatMessage] = []
        self._speak, self._clock, self._breaker = speak, clock, breakers
        self.first_token_s, self.idle_s, self.max_rounds = first_token_s, idle_s, max_rounds
        self._tools: set[asyncio.Task] = set()

    async def run_host_tool(self, name: str, arguments: Mapping[str, Any], *, outcome: str = "") -> ToolResult:
        """Have the host carry out a tool. The side effect is shielded: if the reply is cancelled (the callee
        hung up mid-tool) it still finishes, and sets `outcome` when it succeeds, before the call's end is
        recorded (`tools_finished`)."""
        task = asyncio.ensure_future(self.host.run_tool(name, arguments))
        self._tools.add(task)

        def done(task: asyncio.Task) -> None:
            self._tools.discard(task)
            if outcome and not task.cancelled() and task.exception() is None and task.result().ok:
                self.recorder.outcome = outcome

        task.add_done_callback(done)
        return await asyncio.shield(task)

    async def tools_finished(self, timeout_s: float) -> None:
        """Wait up to `timeout_s` for tools still running (their outcome belongs in the call's record)."""
        if self._tools:
            await asyncio.wait(set(self._tools), timeout=timeout_s)

    async def answer(self, turn: AgentTurn) -> str:
        """Answer the history's last message; the terminal tool's name if one ended the call, else ""."""
        terminal = ""
        for _ in range(self.max_rounds):
            spoken, calls = await self._round(turn)
            results: list[ChatMessage] = []
            for call in calls:
                result, ends = await self._run_tool(call)
                results.append(ChatMessage.tool_result(call.id, result))
                terminal = terminal or ends
            self.said(turn, spoken, tool_calls=tuple(calls))
            self.history.extend(results)
            if terminal:
                if not spoken:
                    await self._speak(turn, goodbyes(self.context.phrases)[terminal])
                return terminal
            if not calls or spoken:
                return ""
            # Tools only (e.g. an outcome recorded, or a refused call): let the model go on.
        return ""

    def said(self, turn: AgentTurn, text: str, *, tool_calls: tuple[ToolCall, ...] = ()) -> None:
        """Add the agent's words for `turn` to the history (remembered, so a cut can rewrite them)."""
        self.history.append(ChatMessage("assistant", text, tool_calls=tool_calls))
        turn.message_at = len(self.history) - 1

    def keep_heard(self, turn: AgentTurn, heard: str) -> None:
        """A cut turn: the model must remember what the callee heard, not what it meant to say."""
        if turn.message_at is not None:
            old = self.history[turn.message_at]
            self.history[turn.message_at] = ChatMessage("assistant", heard, tool_calls=old.tool_calls)
        elif heard:
            self.history.append(ChatMessage("assistant", heard))

    async def _round(self, turn: AgentTurn) -> tuple[str, list[ToolCall]]:
        llm = self.llm
        request = ReplyRequest(
            system_prompt=with_language_instructions(
                render(self.context.system_prompt, self.context.variables).text, self.context.voice.language
            ),
            messages=tuple(self.history),
            model=self.context.llm_model,
            tools=tool_specs.offered_tools(self.context.tools),
            temperature=self.context.llm_temperature,
            language=self.context.voice.language,
        )
        breaker = self._breaker(f"llm:{llm.name}")
        chunker, spoken, calls = SentenceChunker(), [], []
        pending: deque[str] = deque()
        try:
            stream: AsyncIterator[Any] = breaker.stream(
                lambda: stream_with_timeouts(
                    llm.stream_reply(request),
                    first_item_s=self.first_token_s,
                    idle_s=self.idle_s,
                    what=f"llm:{llm.name}",
                )
            )
            async for event in stream:
                if isinstance(event, TextDelta):
                    if event.text:
                        turn.stamp("llm_first_token", self._clock())
                    pending.extend(chunker.push(event.text))
                    while pending:
                        sentence = pending.popleft()
                        spoken.append(sentence)
                        await self._speak(turn, sentence)
                elif isinstance(event, ToolCall):
                    calls.append(event)
                elif isinstance(event, Usage):
                    self.recorder.used_tokens(event.prompt_tokens, event.completion_tokens)
        except ProviderError as error:
            self.recorder.failed("llm", llm.name, error)
            raise GiveUp from error
        if tail := chunker.flush():
            spoken.append(tail)
            await self._speak(turn, tail)
        return " ".join(spoken), calls

    async def _run_tool(self, call: ToolCall) -> tuple[dict[str, Any], str]:
        """(result for the model, the terminal tool's name or ""). Bad calls get an error, never raise."""
        vet = functools.partial(
            tool_specs.vet,
            call,
            self.context.tools,
            outcome_fields=self.context.outcome_fields,
            outcome_schema=self.context.outcome_schema,
            time_zone=self.context.time_zone,
            language=self.context.voice.language,
        )
        # Reading a callback time ("llámeme mañana a las cinco") is dateparser's work, milliseconds of CPU:
        # in a thread, so the other calls on this loop keep their 20 ms frames.
        arguments, error = await asyncio.to_thread(vet) if call.name == tool_specs.SCHEDULE_CALLBACK else vet()
        if error:
            return {"error": error}, ""
        if call.name == tool_specs.TRANSFER:
            return {"ok": True, "transferring": True}, tool_specs.TRANSFER  # carried out once the words are heard
        outcome = {tool_specs.OPT_OUT: "opted_out", tool_specs.END_CALL: "ended_by_agent"}.get(call.name, "")
        result = await self.run_host_tool(call.name, arguments, outcome=outcome)
        if not result.ok:
            return result.as_json(), ""
        return result.as_json(), call.name if call.name in tool_specs.TERMINAL_TOOLS else ""
