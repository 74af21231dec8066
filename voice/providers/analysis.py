"""The post-call analysis port: a finished call's transcript in, one structured reply out — plain data only.

The reply is the model's text as given (`text`), not parsed: whoever asked checks it against the schema it
sent and decides what a reply that breaks it costs (callers retry once, then record the failure). Failures
to get any reply are `ProviderError` (a timeout or a 5xx: `permanent=False`).
"""

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TranscriptLine:
    role: str  # "agent", "contact" or "system"
    text: str


@dataclass(frozen=True)
class Disposition:
    code: str
    label: str
    description: str = ""


@dataclass(frozen=True)
class AnalysisRequest:
    """What the analysis model is asked about one call.

    `schema` is the whole reply's JSON Schema in strict form (voice.pipeline.outcome_schema.strict_schema):
    summary, sentiment, disposition (one of `dispositions`' codes), callback_at and the agent's fields.
    """

    transcript: Sequence[TranscriptLine]
    schema: Mapping[str, Any]
    dispositions: Sequence[Disposition]
    instructions: str = ""  # the agent's purpose (its system prompt), for context
    model: str = ""
    call_outcome: str = ""  # how the conversation ended ("opted_out", "callback_requested", …)
    ended_at: str = ""  # ISO 8601, so "tomorrow" has a meaning
    time_zone: str = ""  # the callee's IANA zone
    language: str = ""


@dataclass(frozen=True)
class AnalysisReply:
    text: str  # the model's JSON text, unparsed
    model: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    refusal: str = ""  # the model declined (OpenAI's `refusal`); `text` is then empty
    extra: Mapping[str, Any] = field(default_factory=dict)


class CallAnalyzer(abc.ABC):
    name: str

    @abc.abstractmethod
    def analyze(self, request: AnalysisRequest) -> AnalysisReply:
        """One structured reply for `request` (blocking: it runs in a Celery task, never on a call's loop)."""


ANALYSIS_INSTRUCTIONS = (
    "You analyse a finished phone call between an automated agent and a callee. Reply with JSON only, as the "
    "schema says: a two- or three-sentence factual summary, the callee's sentiment, the disposition code that "
    "fits best, callback_at (ISO 8601 with offset) only when the callee asked to be called back at a time, else "
    "null, and the fields the agent had to learn. Use null for a field the call did not settle; never guess."
)


def analysis_prompt(request: AnalysisRequest) -> list[dict[str, str]]:
    """The chat messages for `request` (shared by the adapters that talk to a chat model)."""
    dispositions = "\n".join(
        f"- {item.code}: {item.label}" + (f" ({item.description})" if item.description else "")
        for item in request.dispositions
    )
    transcript = "\n".join(f"{line.role}: {line.text}" for line in request.transcript)
    context = [
        f"The call ended at {request.ended_at}." if request.ended_at else "",
        f"The callee's time zone is {request.time_zone}." if request.time_zone else "",
        f"The conversation ended as: {request.call_outcome}." if request.call_outcome else "",
        f"The agent's instructions were:\n{request.instructions}" if request.instructions else "",
    ]
    user = "\n\n".join(
        part
        for part in (
            *context,
            f"Dispositions:\n{dispositions}",
            f"Transcript:\n{transcript}",
        )
        if part
    )
    return [{"role": "system", "content": ANALYSIS_INSTRUCTIONS}, {"role": "user", "content": user}]
