"""What a conversation needs from the application around it, and what it reports back — plain data only.

voice/ knows no models: `calls` implements `ConversationHost` (calls/conversation_host.py), loading the call's
context once at stream start and persisting what the session reports at turn boundaries and at the end.
Tests and benchmarks use `StaticHost`, which keeps everything in memory.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from voice.phrases import Phrases
from voice.providers.speech import VoiceSpec
from voice.sessions import StreamInfo

# AMD verdicts after which a voicemail message is left: the greeting ended with a beep, or with the
# silence (or other sound) that ends a greeting without one.
VOICEMAIL_VERDICTS = frozenset({"machine_end_beep", "machine_end_silence", "machine_end_other"})


@dataclass(frozen=True)
class ConversationContext:
    """Everything a call's conversation needs, read once at stream start."""

    system_prompt: str
    first_message: str
    voicemail_message: str = ""
    variables: Mapping[str, str] = field(default_factory=dict)
    voice: VoiceSpec = field(default_factory=VoiceSpec)  # its `language` (BCP 47) is the call's language
    phrases: Phrases = field(default_factory=Phrases)  # what the pipeline says by itself, in that language
    llm_model: str = ""
    llm_temperature: float = 0.7
    tools: frozenset[str] = frozenset()  # names of the tools the agent enables (voice.pipeline.tools)
    outcome_fields: tuple[str, ...] = ()  # allowed record_outcome fields; empty: any
    outcome_schema: Mapping[str, Any] = field(default_factory=dict)  # record_outcome values are checked against it
    silence_reprompt_s: float = 8.0  # the callee silent this long (carrier time): the agent asks if they are there
    silence_hang_up_s: float = 20.0  # this long: a polite goodbye, a hang-up, outcome "no_response"
    answered_by: str = ""  # AMD verdict so far ("" while detection runs)
    time_zone: str = ""  # the callee's IANA zone, for "call me back tomorrow afternoon"
    time_scale: float = 1.0  # <1 when the simulated carrier runs faster than real time


@dataclass(frozen=True)
class TurnRecord:
    """One finished turn. Times are Unix seconds; latencies are ms from the callee's end of speech
    (for the opener, from the start of the stream)."""

    index: int
    role: str  # "agent", "contact" or "system"
    text: str
    started_at: float
    ended_at: float
    interrupted: bool = False
    latency_ms: Mapping[str, int] = field(default_factory=dict)  # stage → ms (see LATENCY_STAGES)


# "endpoint": from the end of the caller's speech to the detector's decision that the turn was over.
LATENCY_STAGES = ("endpoint", "stt_final", "llm_first_token", "tts_first_byte", "first_audio_sent", "first_audio_heard")


@dataclass(frozen=True)
class ToolResult:
    """What a tool did, sent back to the model as JSON; `error` tells the model what to correct."""

    data: Mapping[str, Any] = field(default_factory=dict)
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error

    def as_json(self) -> dict[str, Any]:
        return {"error": self.error} if self.error else {"ok": True, **self.data}


@dataclass(frozen=True)
class CallSummary:
    """How the conversation ended."""

    outcome: str  # completed | opted_out | voicemail | transferred | ended_by_agent | no_response | provider_failure
    failures: tuple[str, ...] = ()  # what failed, in order ("tts:elevenlabs: timed out…")
    latency: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # stage → {p50, p95, max, n}
    turns: int = 0
    llm_prompt_tokens: int = 0  # the conversation's model, as its adapters reported (Usage events)
    llm_completion_tokens: int = 0


class ConversationHost(Protocol):
    async def load_context(self, info: StreamInfo) -> ConversationContext:
        """The call's context; called once, at stream start."""

    async def turn_finished(self, turn: TurnRecord) -> None:
        """A turn is over (persist it)."""

    async def run_tool(self, name: str, arguments: Mapping[str, Any]) -> ToolResult:
        """Carry out a tool's side effect (suppress, schedule, record, transfer); never raises for bad input."""

    async def provider_failed(self, role: str, provider: str, message: str, *, permanent: bool) -> None:
        """A provider failed or timed out (the session has already fallen back)."""

    async def call_ended(self, summary: CallSummary) -> None:
        """The stream is over; nothing is reported after this."""

    def subscribe(self, on_answered_by: Any, on_supervisor: Any = None) -> None:
        """Call `on_answered_by(verdict)` when an AMD verdict arrives during the call, and `on_supervisor(action,
        value)` when a supervisor steers it (whisper, take_over, audio, hand_back: ConversationSession.supervise);
        both optional."""

    async def end_with_goodbye(self, text: str, language: str) -> None:
        """The stream is gone (the server is stopping): have the carrier say `text` and hang up."""


class StaticHost:
    """A host that keeps everything in memory: tests, benchmarks and the bare `ConversationSession`."""

    def __init__(self, context: ConversationContext, tool_results: Mapping[str, ToolResult] | None = None) -> None:
        self.context = context
        self.turns: list[TurnRecord] = []
        self.tools: list[tuple[str, Mapping[str, Any]]] = []
        self.failures: list[tuple[str, str, str]] = []
        self.summary: CallSummary | None = None
        self.tool_results = dict(tool_results or {})
        self.on_answered_by: Any = None
        self.on_supervisor: Any = None
        self.goodbyes: list[str] = []

    async def load_context(self, info: StreamInfo) -> ConversationContext:
        return self.context

    async def turn_finished(self, turn: TurnRecord) -> None:
        self.turns.append(turn)

    async def run_tool(self, name: str, arguments: Mapping[str, Any]) -> ToolResult:
        self.tools.append((name, dict(arguments)))
        return self.tool_results.get(name, ToolResult())

    async def provider_failed(self, role: str, provider: str, message: str, *, permanent: bool) -> None:
        self.failures.append((role, provider, message))

    async def call_ended(self, summary: CallSummary) -> None:
        self.summary = summary

    def subscribe(self, on_answered_by: Any, on_supervisor: Any = None) -> None:
        self.on_answered_by = on_answered_by
        self.on_supervisor = on_supervisor

    async def end_with_goodbye(self, text: str, language: str) -> None:
        self.goodbyes.append(text)
