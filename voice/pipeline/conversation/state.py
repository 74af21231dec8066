"""What one conversation keeps while it runs: the state every part of the session reads and changes.

`ConversationSession` (session.py) builds it in `__init__` and `start`; the parts it is made of — hearing.py,
speaking.py, unanswered.py — are mixins over it, so each can be read on its own.
"""

import asyncio
from collections.abc import Callable
from typing import Any

from voice.languages import Language
from voice.pipeline.agent_turns import AgentTurn, AgentTurns
from voice.pipeline.breaker import CircuitBreaker
from voice.pipeline.call_record import CallRecorder
from voice.pipeline.fallback import FallbackPhrases
from voice.pipeline.host import ConversationContext, ConversationHost
from voice.pipeline.listening import Listener
from voice.pipeline.playout import Playout
from voice.pipeline.replies import ReplyRounds
from voice.pipeline.session_config import SessionConfig
from voice.pipeline.speaker import Speaker
from voice.pipeline.turn_taking import TurnDetector
from voice.providers.speech_selection import SpeechProviders
from voice.sessions import MediaSender, StreamInfo


class ConversationState:
    """The call's conversation state (set by `ConversationSession`); `_spawn` keeps its background tasks."""

    host: ConversationHost | None
    providers: SpeechProviders | None
    config: SessionConfig
    _breaker: Callable[[str], CircuitBreaker]
    detector: TurnDetector
    recorder: CallRecorder
    info: StreamInfo
    sender: MediaSender
    loop: asyncio.AbstractEventLoop
    context: ConversationContext
    language: Language  # the agent's language's word lists
    playout: Playout | None
    speaker: Speaker
    replies: ReplyRounds | None
    listener: Listener | None
    phrases: FallbackPhrases
    _tasks: set[asyncio.Task]
    _reply: asyncio.Task | None
    _turn: AgentTurn | None  # the agent's turn now speaking (or about to)
    _agent_turns: AgentTurns
    _reprompt_turn: AgentTurn | None
    _ending: bool  # the agent is ending the call (a goodbye, the voicemail message): nothing new starts
    _stopped: bool  # the stream is gone: `stop` has begun
    _stt_failures: int
    started: bool
    taken_over: bool  # a supervisor speaks instead of the agent (supervised.py)
    supervisor_voice: Any  # the supervisor's words being transcribed while taken over (supervisor_voice.py)

    def _spawn(self, coroutine: Any, *, name: str | None = None) -> asyncio.Task:
        task = asyncio.ensure_future(coroutine)
        if name:
            task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task
