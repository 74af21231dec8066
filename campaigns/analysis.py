"""Post-call analysis: what a finished call concluded, in the agent's typed fields and the campaign's words.

`call_analyse` runs in the `campaigns.analyse_calls` task, queued through calls' call-finished hook (after
the commit that ended the call). It claims the call (so a second run does nothing), sends the transcript to
the analysis model (voice.providers: OpenAI's structured outputs, or the simulated model offline) with one
JSON Schema for the whole reply — a summary, the sentiment, a disposition among the campaign's codes,
`callback_at`, and the agent's outcome schema as `fields` — and checks the reply against it with jsonschema.
A reply that breaks the schema (not JSON, a wrong type, a code the campaign does not have) or a request that
fails is tried once more; then the call's analysis is stored as failed with each attempt's reason. A valid
one is stored on the call and its disposition's next step is taken (campaigns/dispositions.py).

Calls with no conversation (not answered, or the callee never spoke) are skipped, saying so.
"""

import datetime
import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from calls.models import Call, CallStatus
from calls.selectors import call_transcript, calls_awaiting_analysis, conversation_recorded
from calls.services import (
    STALE_CLAIM,
    call_analysis_claim,
    call_analysis_fail,
    call_analysis_record,
    call_analysis_skip,
)
from campaigns.dispositions import target_apply_disposition
from campaigns.models import Agent, Campaign
from campaigns.policies import default_dispositions
from voice.pipeline.outcome_schema import drop_optional_nulls, strict_schema, validation_errors
from voice.providers.analysis import AnalysisReply, AnalysisRequest, Disposition, TranscriptLine
from voice.providers.base import ProviderError
from voice.providers.speech_selection import call_analyzer

logger = logging.getLogger(__name__)

ATTEMPTS = 2  # the first reply, and one retry when it breaks the schema
SENTIMENTS = ["positive", "neutral", "negative"]


def reply_schema(outcome_schema: Mapping[str, Any], dispositions: list[Disposition]) -> dict[str, Any]:
    """The whole reply's JSON Schema (strict form): summary, sentiment, disposition, callback_at, fields."""
    envelope: dict[str, Any] = {
        "type": "object",
        "properties": {
            "summary": {"type": "string", "description": "Two or three factual sentences about the call."},
            "sentiment": {"type": "string", "enum": SENTIMENTS},
            "disposition": {"type": "string", "enum": [item.code for item in dispositions]},
            "callback_at": {
                "type": ["string", "null"],
                "format": "date-time",
                "description": "When the callee asked to be called back (ISO 8601 with offset), else null.",
            },
        },
        "required": ["summary", "sentiment", "disposition", "callback_at"],
    }
    if outcome_schema.get("properties"):
        envelope["properties"]["fields"] = dict(outcome_schema)
        envelope["required"].append("fields")
    return strict_schema(envelope)


@dataclass(frozen=True)
class Verdict:
    summary: str
    sentiment: str
    disposition: str
    callback_at: datetime.datetime | None
    fields: dict[str, Any]


def check_reply(
    reply: AnalysisReply, schema: Mapping[str, Any], outcome_schema: Mapping[str, Any]
) -> tuple[Verdict | None, str]:
    """(the verdict, "") for a reply valid against `schema`, else (None, what is wrong in words)."""
    if reply.refusal:
        return None, f"the model refused: {reply.refusal}"
    try:
        parsed = json.loads(reply.text)
    except (TypeError, ValueError) as error:
        return None, f"not JSON ({error}): {reply.text[:200]!r}"
    errors = validation_errors(schema, parsed)
    fields: dict[str, Any] = {}
    if not errors and "fields" in parsed:
        fields = drop_optional_nulls(outcome_schema, parsed["fields"])  # type: ignore[assignment]
        errors = validation_errors(outcome_schema, fields, where="fields")
    if errors:
        return None, "; ".join(errors[:5])
    callback_at = datetime.datetime.fromisoformat(parsed["callback_at"]) if parsed.get("callback_at") else None
    summary = parsed["summary"].strip()
    return Verdict(summary, parsed["sentiment"], parsed["disposition"], callback_at, fields), ""


def campaign_dispositions(campaign: Campaign | None) -> list[dict[str, str]]:
    items = campaign.dispositions if campaign is not None and isinstance(campaign.dispositions, list) else []
    return items or default_dispositions()


class ConversationNotRecorded(Exception):
    """The call's conversation is still writing its last turns: analyse it a moment later."""


WAIT_FOR_CONVERSATION = datetime.timedelta(seconds=60)  # past this, analyse what there is
# Past this after the call ended, an analysis still not started was lost (never queued, or its task lost), and
# one claimed this long ago was abandoned (the claim may be taken again: calls.services.analysis.STALE_CLAIM).
ANALYSIS_STALLED_AFTER = STALE_CLAIM
ANALYSIS_SWEEP_LOOKBACK = datetime.timedelta(days=1)  # older calls are left as they are


def calls_analysis_stalled(*, now: datetime.datetime | None = None, limit: int = 200) -> list[uuid.UUID]:
    """Calls of the last day whose analysis was never queued or was abandoned mid-run, for beat's sweep."""
    now = now or timezone.now()
    return calls_awaiting_analysis(
        ended_after=now - ANALYSIS_SWEEP_LOOKBACK,
        ended_before=now - ANALYSIS_STALLED_AFTER,
        claimed_before=now - ANALYSIS_STALLED_AFTER,
        limit=limit,
    )


def call_analyse(*, call_id: uuid.UUID | str, wait_for_conversation: bool = True) -> str:
    """Analyse finished call `call_id` once; returns its analysis status ("" when there was nothing to do).

    Raises ConversationNotRecorded while the call's conversation has not recorded its end (its last turns and
    outcome follow the stream's stop), for up to a minute after the call ended; the task asks again later.
    """
    call = Call.objects.select_related("contact").filter(pk=call_id).first()
    if call is None or not call.is_terminal:
        return ""
    recent = call.ended_at is not None and call.ended_at > timezone.now() - WAIT_FOR_CONVERSATION
    if wait_for_conversation and recent and not conversation_recorded(call_id=call.pk):
        raise ConversationNotRecorded(str(call.pk))
    if not call_analysis_claim(call_id=call.pk):
        return ""
    lines = [TranscriptLine(role, text) for role, text in call_transcript(call_id=call.pk)]
    if call.status != CallStatus.COMPLETED or not any(line.role == "contact" and line.text.strip() for line in lines):
        call_analysis_skip(call_id=call.pk, reason="No conversation to analyse: the callee said nothing.")
        return "skipped"
    agent = Agent.objects.filter(pk=call.agent_id).first() if call.agent_id else None
    campaign = Campaign.objects.filter(pk=call.campaign_id).first() if call.campaign_id else None
    outcome_schema = agent.outcome_schema if agent is not None and isinstance(agent.outcome_schema, dict) else {}
    dispositions = [
        Disposition(item["code"], item["label"], item.get("description", ""))
        for item in campaign_dispositions(campaign)
    ]
    schema = reply_schema(outcome_schema, dispositions)
    request = AnalysisRequest(
        transcript=lines,
        schema=schema,
        dispositions=dispositions,
        instructions=agent.system_prompt if agent is not None else "",
        call_outcome=call.outcome,
        ended_at=(call.ended_at or timezone.now()).isoformat(),
        time_zone=call.contact.time_zone,
        language=agent.language if agent is not None else "",
    )
    try:
        return _analyse(call, lines, request, schema, outcome_schema)
    except Exception as error:  # never leave the claim running: say what broke, and let the task log it
        call_analysis_fail(call_id=call.pk, reason=f"the analysis broke: {type(error).__name__}: {error}", attempts=0)
        raise


def _analyse(
    call: Call,
    lines: list[TranscriptLine],
    request: AnalysisRequest,
    schema: Mapping[str, Any],
    outcome_schema: Mapping[str, Any],
) -> str:
    """Ask the model (twice at most), check the reply, store it or the failure; returns the final status."""
    analyzer = call_analyzer()
    reasons: list[str] = []
    tokens = [0, 0]
    model = ""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            reply = analyzer.analyze(request)
        except ProviderError as error:
            reasons.append(f"attempt {attempt}: {error.message}")
            if error.permanent:
                break
            continue
        tokens = [tokens[0] + reply.prompt_tokens, tokens[1] + reply.completion_tokens]
        model = reply.model
        verdict, problem = check_reply(reply, schema, outcome_schema)
        if verdict is None:
            reasons.append(f"attempt {attempt}: the reply breaks the schema: {problem}")
            continue
        stored = call_analysis_record(
            call_id=call.pk, summary=verdict.summary, sentiment=verdict.sentiment, disposition=verdict.disposition,
            data=verdict.fields, attempts=attempt, model=model, prompt_tokens=tokens[0], completion_tokens=tokens[1],
        )  # fmt: skip
        if stored:
            target_apply_disposition(call_id=call.pk, disposition=verdict.disposition, callback_at=verdict.callback_at)
        return "done"
    reason = "; ".join(reasons)
    logger.warning("analysis of call %s failed: %s", call.pk, reason)
    call_analysis_fail(call_id=call.pk, reason=reason, attempts=len(reasons), model=model,
                       prompt_tokens=tokens[0], completion_tokens=tokens[1])  # fmt: skip
    return "failed"
