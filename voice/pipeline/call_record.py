"""The call's record: transcript positions, finished turns, provider failures, per-stage latencies and the
outcome — reported to the host by one task, in order, off the audio path.

Times given to `record` are loop times (the session's clock); the `TurnRecord`s carry Unix times. Latencies
are ms from a turn's reference — the callee's end of speech, or the stream start for the opener — and the
opener's do not count in the call's latency summary (they measure the pickup, not a reply).
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from typing import Any

from voice.pipeline.agent_turns import AgentTurn, latency_summary
from voice.pipeline.host import LATENCY_STAGES, CallSummary, ConversationHost, TurnRecord
from voice.providers.base import ProviderError

logger = logging.getLogger(__name__)

# Reporters still writing a finished call's last turns (kept referenced until they are done).
_FINISHING: set[asyncio.Task] = set()


def elapsed_ms(reference: float, at: float) -> int:
    return max(0, round((at - reference) * 1000))


class CallRecorder:
    """One per call. `allocate_index` hands out transcript positions; everything else is queued for the host."""

    def __init__(self) -> None:
        self.outcome = "completed"
        self.failures: list[str] = []
        self.latencies: dict[str, list[int]] = {stage: [] for stage in LATENCY_STAGES}
        self._next_index = 0
        self.llm_tokens = [0, 0]  # prompt, completion: what the conversation's model was paid for
        self._reports: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self._reporter: asyncio.Task | None = None
        self.closed = False

    def allocate_index(self) -> int:
        index, self._next_index = self._next_index, self._next_index + 1
        return index

    # ---- What happened -------------------------------------------------------------------------

    def record(
        self,
        role: str,
        text: str,
        started: float,
        ended: float,
        latency: Mapping[str, int] | None = None,
        index: int | None = None,
    ) -> None:
        """A contact or system turn between two loop times (a new transcript position unless `index`)."""
        offset = time.time() - asyncio.get_running_loop().time()
        index = self.allocate_index() if index is None else index
        record = TurnRecord(index, role, text, started + offset, ended + offset, latency_ms=dict(latency or {}))
        self._reports.put_nowait(("turn", record))

    def agent_turn(self, turn: AgentTurn, text: str) -> None:
        """The agent's finished turn as heard (`text`), with its latencies by stage."""
        assert turn.index is not None  # noqa: S101 - taken when its first audio was queued
        latency = {stage: elapsed_ms(turn.reference, at) for stage, at in turn.stamps.items()}
        record = TurnRecord(
            index=turn.index,
            role="agent",
            text=text,
            started_at=turn.started_wall,
            ended_at=time.time(),
            interrupted=turn.interrupted,
            latency_ms=latency,
        )
        self._reports.put_nowait(("turn", record))
        if not (turn.is_opener or turn.unprompted):
            for stage, value in latency.items():
                self.latencies[stage].append(value)

    def failed(self, role: str, provider: str, error: ProviderError) -> None:
        message = getattr(error, "message", str(error))
        self.failures.append(f"{role}:{provider}: {message}"[:255])
        self._reports.put_nowait(("failure", (role, provider, message, error.permanent)))

    def used_tokens(self, prompt: int, completion: int) -> None:
        self.llm_tokens = [self.llm_tokens[0] + prompt, self.llm_tokens[1] + completion]

    def summary(self) -> CallSummary:
        return CallSummary(
            self.outcome, tuple(self.failures), latency_summary(self.latencies), self._next_index,
            llm_prompt_tokens=self.llm_tokens[0], llm_completion_tokens=self.llm_tokens[1],
        )  # fmt: skip

    # ---- Reporting -----------------------------------------------------------------------------

    def start(self, host: ConversationHost, call_id: str) -> None:
        """Start the task that hands every report to the host, in order."""
        self._reporter = asyncio.ensure_future(self._report(host, call_id))
        self._reporter.set_name("reports")

    async def close(self, grace_s: float) -> None:
        """Report the call's end (once: later calls do nothing); wait up to `grace_s` for the last writes,
        which then finish on their own (the carrier is waiting for the stream to close) — `unfinished()`
        lets a stopping server wait for them."""
        if self.closed:
            return
        self.closed = True
        self._reports.put_nowait(("end", self.summary()))
        reporter = self._reporter
        if reporter is None:
            return
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await asyncio.wait_for(asyncio.shield(reporter), timeout=grace_s)
        if not reporter.done():
            _FINISHING.add(reporter)
            reporter.add_done_callback(_FINISHING.discard)

    async def _report(self, host: ConversationHost, call_id: str) -> None:
        while True:
            kind, payload = await self._reports.get()
            try:
                if kind == "turn":
                    await host.turn_finished(payload)
                elif kind == "failure":
                    role, provider, message, permanent = payload
                    await host.provider_failed(role, provider, message, permanent=permanent)
                else:
                    await host.call_ended(payload)
                    return
            except Exception:
                logger.exception("call %s: could not report %s", call_id, kind)


async def unfinished(timeout_s: float) -> int:
    """Wait up to `timeout_s` for every finished call's last writes still under way; how many are left."""
    pending = set(_FINISHING)
    if pending:
        await asyncio.wait(pending, timeout=timeout_s)
    return sum(1 for task in pending if not task.done())
