"""The calls side of a conversation: the voice session's host, which knows the Call and persists for it.

`conversation_session()` is the default `VOICE_SESSION_FACTORY`: a `voice.pipeline.conversation.
ConversationSession` whose host is a `CallConversationHost`. The host reads the call's context once at
stream start (the agent's script, contact variables, enabled tools, AMD verdict so far), writes at turn boundaries
only (TranscriptTurn rows, CallEvents for tools and provider failures) and at the end (latency summary,
outcome, what failed), always through `database_sync_to_async`. It publishes live events to the
`call.<uuid>` and `calls.live` groups, and listens on `call.<uuid>` for the AMD verdict that the AMD
webhook publishes mid-call, so a voicemail greeting that ends with a beep gets the agent's message.
"""

import asyncio
import contextlib
import datetime
import logging
from collections.abc import Callable, Mapping
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction
from opentelemetry import trace

from calls import listen_in
from calls.hooks import call_script, request_callback
from calls.live_events import (
    LIVE_CALLS_GROUP,
    STEER_MESSAGE_TYPE,
    VOICE_MESSAGE_TYPE,
    call_group,
    event_message,
    masked_text,
    masked_values,
    voice_group,
)
from calls.models import Call, CallEvent, TranscriptTurn
from calls.services import call_event_record
from calls.services.browser import BROWSER_PROVIDER
from contacts.selectors import contact_template_fields
from monitoring.metrics import PROVIDER_ERRORS, TURN_STAGE_LATENCY
from voice.phrases import phrases_for
from voice.pipeline import tools as tool_specs
from voice.pipeline.conversation import ConversationSession
from voice.pipeline.host import CallSummary, ConversationContext, ToolResult, TurnRecord
from voice.pipeline.templating import template_variables
from voice.providers.base import ProviderError
from voice.providers.speech import VoiceSpec
from voice.sessions import StreamInfo

logger = logging.getLogger(__name__)
tracer = trace.get_tracer("callwright.calls")

Listener = Callable[[str], None]

# What a supervisor's steering message may ask of the conversation (the rest is done by the carrier).
SUPERVISOR_ACTIONS = frozenset({"whisper", "take_over", "hand_back"})

# The channel layer carries only live events and AMD verdicts: an operation on it that hangs (a Redis gone
# quiet) is given up after this, so it can never hold a call's record (written before) or its end.
LAYER_TIMEOUT_S = 2.0

# For calls placed without an agent (the admin's test call); the first message is the `disclosure` phrase (and
# the voicemail the `voicemail` one), in the contact's language.
DEFAULT_SYSTEM_PROMPT = "You are a polite automated assistant on a short test phone call. Keep replies brief."


def conversation_session() -> ConversationSession:
    """The `VOICE_SESSION_FACTORY` default: a conversation that persists to this call."""
    return ConversationSession(CallConversationHost())


# ---- Reads and writes (sync; called through database_sync_to_async) ----------------------------------


def conversation_context(*, call_id: str) -> tuple[ConversationContext, dict[str, str]]:
    """The call's context, and facts the host keeps (phone, CallSid, transfer number).

    What the agent says and may do comes from the app that owns agents, through `calls.hooks.call_script`.
    """
    call = Call.objects.select_related("contact").get(pk=call_id)
    contact = call.contact
    script = call_script(call.agent_id) if call.agent_id is not None else None
    variables = template_variables(
        contact_template_fields(contact=contact),
        contact.custom_fields if isinstance(contact.custom_fields, dict) else {},
    )
    # A browser call is in real time whatever the simulated carrier's pace: an operator is listening.
    simulated = settings.TELEPHONY_PROVIDER == "simulated" and call.provider != BROWSER_PROVIDER
    scale = float(settings.SIMULATED_CARRIER_TIME_SCALE) if simulated else 1.0
    facts = {"phone": call.to_phone, "call_sid": call.provider_call_id, "transfer_number": "", "caller_id": "",
             "provider": call.provider}  # fmt: skip
    if script is None:
        tools = frozenset({tool_specs.END_CALL, tool_specs.OPT_OUT})
        language = contact.language or "en-US"
        phrases = phrases_for(language)
        return ConversationContext(
            DEFAULT_SYSTEM_PROMPT, phrases.disclosure, voicemail_message=phrases.voicemail, variables=variables,
            tools=tools, voice=VoiceSpec(language=language), phrases=phrases, answered_by=call.answered_by,
            time_zone=contact.time_zone, time_scale=scale,
        ), facts  # fmt: skip
    enabled = {
        tool_specs.END_CALL: script.can_end_call,
        tool_specs.OPT_OUT: script.can_opt_out,
        tool_specs.TRANSFER: script.can_transfer and bool(script.transfer_number),
        tool_specs.RECORD_OUTCOME: script.can_record_outcome,
        tool_specs.SCHEDULE_CALLBACK: script.can_schedule_callback and call.target_id is not None,
    }
    facts |= {"transfer_number": script.transfer_number, "caller_id": call.from_phone}
    return ConversationContext(
        system_prompt=script.system_prompt,
        first_message=script.first_message,
        voicemail_message=script.voicemail_message,
        variables=variables,
        voice=VoiceSpec(
            voice_id=script.voice_id, model=script.voice_model, speed=script.voice_speed, language=script.language
        ),
        phrases=phrases_for(script.language, script.phrases),
        llm_model=script.llm_model,
        llm_temperature=script.llm_temperature,
        tools=frozenset(name for name, on in enabled.items() if on),
        outcome_fields=script.outcome_fields,
        outcome_schema=script.outcome_schema,
        silence_reprompt_s=script.silence_reprompt_s,
        silence_hang_up_s=script.silence_hang_up_s,
        answered_by=call.answered_by,
        time_zone=contact.time_zone,
        time_scale=scale,
    ), facts


def _moment(unix_seconds: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(unix_seconds, tz=datetime.UTC)


def transcript_turn_record(*, call_id: str, turn: TurnRecord) -> None:
    """Store one turn (a replay of the same index is ignored)."""
    latency = turn.latency_ms
    TranscriptTurn.objects.bulk_create(
        [
            TranscriptTurn(
                call_id=call_id,
                index=turn.index,
                role=turn.role,
                text=turn.text,
                started_at=_moment(turn.started_at),
                ended_at=_moment(turn.ended_at),
                interrupted=turn.interrupted,
                **{f"{stage}_ms": latency.get(stage) for stage in
                   ("stt_final", "llm_first_token", "tts_first_byte", "first_audio_sent", "first_audio_heard")},
            )
        ],
        ignore_conflicts=True,
    )  # fmt: skip


def suppression_add_opt_out(*, phone: str, reason: str) -> None:
    """Suppress a number after an in-call opt-out, through the contacts service (idempotent)."""
    from contacts.models import Suppression
    from contacts.services import suppression_add

    suppression_add(phone=phone, reason=reason[:255], source=Suppression.Source.OPT_OUT)


def call_schedule_callback(*, call_id: str, at: datetime.datetime, when: str) -> bool:
    """Ask for the call's callee to be dialled again at `at`; False when nothing registered can do it.

    The campaign that made the call does it, through the hook it registered (calls/hooks.py).
    """
    with transaction.atomic():
        if not request_callback(call_id, at):
            return False
        Call.objects.filter(pk=call_id).update(outcome="callback_requested")
        payload = {"tool": tool_specs.SCHEDULE_CALLBACK, "when": when, "at": at.isoformat()}
        call_event_record(
            call_id=call_id, kind=CallEvent.Kind.SYSTEM, provider_event_id=f"callback:{at.isoformat()}", payload=payload
        )
    return True


def call_record_outcome(*, call_id: str, field: str, value: object) -> None:
    """Merge one extracted field into the call's data (read-modify-write under a row lock)."""
    with transaction.atomic():
        call = Call.objects.select_for_update().only("extracted_data").get(pk=call_id)
        data = dict(call.extracted_data or {})
        data[field] = value
        Call.objects.filter(pk=call_id).update(extracted_data=data)


def record_turn_span(turn: TurnRecord) -> None:
    """A span `media turn` over the turn's own start and end, its stage latencies as attributes (a no-op unless
    tracing is on; the call id comes from the stream's context)."""
    attributes = {"callwright.turn.index": turn.index, "callwright.turn.role": turn.role,
                  "callwright.turn.interrupted": turn.interrupted}  # fmt: skip
    attributes |= {f"callwright.latency_ms.{stage}": ms for stage, ms in turn.latency_ms.items()}
    span = tracer.start_span("media turn", start_time=int(turn.started_at * 1e9), attributes=attributes)
    span.end(end_time=int(max(turn.ended_at, turn.started_at) * 1e9))


def call_record_tool(*, call_id: str, sequence: int, name: str, arguments: Mapping[str, Any], result: dict) -> None:
    call_event_record(call_id=call_id, kind=CallEvent.Kind.SYSTEM, provider_event_id=f"tool:{sequence}:{name}",
                      payload={"tool": name, "arguments": dict(arguments), "result": result})  # fmt: skip


def call_record_provider_failure(*, call_id: str, sequence: int, role: str, provider: str, message: str) -> None:
    call_event_record(call_id=call_id, kind=CallEvent.Kind.SYSTEM, provider_event_id=f"provider-error:{sequence}",
                      payload={"role": role, "provider": provider, "error": message})  # fmt: skip


def call_record_conversation_end(*, call_id: str, summary: CallSummary) -> None:
    """The end of the conversation: latency summary, outcome (unless a tool set one), what failed."""
    changes: dict[str, object] = {"latency_stats": {stage: dict(values) for stage, values in summary.latency.items()}}
    if summary.failures:
        changes["failure_reason"] = "; ".join(summary.failures)[:255]
    with transaction.atomic():
        usage = Call.objects.select_for_update().filter(pk=call_id).values_list("usage", flat=True).first() or {}
        changes["usage"] = {**usage, "llm_prompt_tokens": summary.llm_prompt_tokens,
                            "llm_completion_tokens": summary.llm_completion_tokens}  # fmt: skip
        Call.objects.filter(pk=call_id).update(**changes)
    Call.objects.filter(pk=call_id, outcome="").update(outcome=summary.outcome)
    payload = {"outcome": summary.outcome, "failures": list(summary.failures), "turns": summary.turns}
    call_event_record(
        call_id=call_id, kind=CallEvent.Kind.SYSTEM, provider_event_id="conversation-end", payload=payload
    )


def _retrieve(task: asyncio.Task) -> None:
    if not task.cancelled():
        task.exception()  # a failure on the way out is not the call's concern (and not "never retrieved")


# ---- The host -----------------------------------------------------------------------------------------


class CallConversationHost:
    """`voice.pipeline.host.ConversationHost` for a Call: persists, publishes, and relays AMD verdicts."""

    def __init__(self) -> None:
        self.call_id = ""
        self.facts: dict[str, str] = {}
        self._sequence = 0
        self._on_answered_by: Callable[[str], None] | None = None
        self._on_supervisor: Callable[[str, str | bytes], None] | None = None
        self._listener: asyncio.Task | None = None
        self._channel = ""

    async def load_context(self, info: StreamInfo) -> ConversationContext:
        self.call_id = info.call_id
        context, self.facts = await database_sync_to_async(conversation_context)(call_id=info.call_id)
        layer = get_channel_layer()
        if layer is not None:
            try:
                async with asyncio.timeout(LAYER_TIMEOUT_S):
                    self._channel = await layer.new_channel()
                    await layer.group_add(call_group(self.call_id), self._channel)
                    await layer.group_add(voice_group(self.call_id), self._channel)
            except Exception as error:  # the layer only carries AMD verdicts and live events: the call goes on
                # An expected failure (Redis down or slow): one line, not a traceback.
                logger.warning("call %s: not subscribed to its live group: %r", self.call_id, error)
                self._channel = ""
            else:
                self._listener = asyncio.create_task(self._listen(layer))
        await self._publish({"kind": "conversation", "state": "started"})
        return context

    def subscribe(
        self, on_answered_by: Callable[[str], None], on_supervisor: Callable[[str, str | bytes], None] | None = None
    ) -> None:
        self._on_answered_by = on_answered_by
        self._on_supervisor = on_supervisor

    async def _listen(self, layer: Any) -> None:
        """AMD verdicts published by the webhook for this call, and supervisors' whispers, reach the session here."""
        while True:
            message = await layer.receive(self._channel)
            if message.get("type") == listen_in.LISTEN_MESSAGE_TYPE:
                listen_in.handle_listen_message(self.call_id, message)
                continue
            if message.get("type") == VOICE_MESSAGE_TYPE:
                if self._on_supervisor is not None:
                    self._on_supervisor("audio", message.get("payload", b""))
                continue
            if message.get("type") == STEER_MESSAGE_TYPE:
                if message.get("action") in SUPERVISOR_ACTIONS and self._on_supervisor is not None:
                    self._on_supervisor(str(message["action"]), str(message.get("text", "")))
                continue
            event = message.get("event") or {}
            if event.get("kind") == "amd" and self._on_answered_by is not None:
                self._on_answered_by(str(event.get("answered_by", "")))

    async def turn_finished(self, turn: TurnRecord) -> None:
        await database_sync_to_async(transcript_turn_record)(call_id=self.call_id, turn=turn)
        record_turn_span(turn)
        for stage, ms in turn.latency_ms.items():
            if turn.role == "agent" and turn.index > 0:  # the opener's times run from the stream start
                TURN_STAGE_LATENCY.labels(stage=stage).observe(ms / 1000)
        await self._publish({"kind": "turn", "index": turn.index, "role": turn.role, "text": masked_text(turn.text),
                             "interrupted": turn.interrupted, "latency_ms": dict(turn.latency_ms)})  # fmt: skip

    async def run_tool(self, name: str, arguments: Mapping[str, Any]) -> ToolResult:
        self._sequence += 1
        try:
            result = await self._tool(name, arguments)
        except Exception as error:  # a failed side effect is the model's error to hear, never the call's end
            logger.exception("call %s: tool %s failed", self.call_id, name)
            result = ToolResult(error=f"{name} failed: {type(error).__name__}")
        await database_sync_to_async(call_record_tool)(
            call_id=self.call_id, sequence=self._sequence, name=name, arguments=arguments, result=result.as_json()
        )
        await self._publish({"kind": "tool", "name": name, "ok": result.ok, "arguments": masked_values(arguments),
                             "result": masked_values(result.as_json())})  # fmt: skip
        return result

    async def _tool(self, name: str, arguments: Mapping[str, Any]) -> ToolResult:
        if name == tool_specs.OPT_OUT and self.facts.get("provider") == BROWSER_PROVIDER:
            await self._set_outcome("opted_out")  # the operator playing the callee: recorded, nobody suppressed
            return ToolResult({"suppressed": False, "browser_test_call": True})
        if name == tool_specs.OPT_OUT:
            reason = str(arguments.get("reason") or "Asked not to be called again (in-call opt-out)")
            await database_sync_to_async(suppression_add_opt_out)(phone=self.facts["phone"], reason=reason)
            await self._set_outcome("opted_out")
            return ToolResult({"suppressed": True})
        if name == tool_specs.SCHEDULE_CALLBACK:
            at = datetime.datetime.fromisoformat(str(arguments["at"]))
            scheduled = await database_sync_to_async(call_schedule_callback)(
                call_id=self.call_id, at=at, when=str(arguments.get("when", ""))
            )
            return ToolResult({"scheduled_for": at.isoformat()}) if scheduled else ToolResult(
                error="this call is not part of a campaign; no callback can be scheduled")  # fmt: skip
        if name == tool_specs.RECORD_OUTCOME:
            await database_sync_to_async(call_record_outcome)(
                call_id=self.call_id, field=str(arguments["field"]), value=arguments["value"]
            )
            return ToolResult({"recorded": arguments["field"]})
        if name == tool_specs.TRANSFER:
            return await self._transfer()
        if name == tool_specs.END_CALL:
            return ToolResult({"ending": True})
        return ToolResult(error=f"unknown tool {name!r}")

    async def _transfer(self) -> ToolResult:
        from voice.providers.selection import telephony

        number, sid = self.facts.get("transfer_number", ""), self.facts.get("call_sid", "")
        if not number or not sid:
            return ToolResult(error="no transfer number is configured")
        try:
            await database_sync_to_async(
                lambda: telephony().transfer(sid, to=number, caller_id=self.facts["caller_id"])
            )()
        except ProviderError as error:
            return ToolResult(error=f"transfer failed: {error.message}")
        await self._set_outcome("transferred")
        return ToolResult({"transferred_to": number})

    async def end_with_goodbye(self, text: str, language: str) -> None:
        """The carrier says `text` and hangs up (a REST request in a worker thread; many calls end at once when
        a server stops, so not on the single database thread)."""
        from voice.providers.selection import telephony

        sid = self.facts.get("call_sid", "")
        if not sid:
            return
        await asyncio.to_thread(lambda: telephony().say_and_hang_up(sid, text=text, language=language))

    async def _set_outcome(self, outcome: str) -> None:
        await database_sync_to_async(lambda: Call.objects.filter(pk=self.call_id).update(outcome=outcome))()

    async def provider_failed(self, role: str, provider: str, message: str, *, permanent: bool) -> None:
        PROVIDER_ERRORS.labels(provider=f"{role}:{provider}", permanent=str(permanent).lower()).inc()
        self._sequence += 1
        await database_sync_to_async(call_record_provider_failure)(
            call_id=self.call_id, sequence=self._sequence, role=role, provider=provider, message=message
        )
        await self._publish({"kind": "provider_error", "role": role, "provider": provider})

    async def call_ended(self, summary: CallSummary) -> None:
        await self._stop_listening()
        await database_sync_to_async(call_record_conversation_end)(call_id=self.call_id, summary=summary)
        await self._publish({"kind": "conversation", "state": "ended", "outcome": summary.outcome,
                             "latency": {k: dict(v) for k, v in summary.latency.items()}})  # fmt: skip

    async def _stop_listening(self) -> None:
        """Leave the call's groups, then stop the listener: first, so that nothing more is routed to a channel
        no one will read. channels_redis keeps a message that reaches such a channel in its per-channel buffer
        for the life of the process (django/channels_redis#384): the end published to the call's group while
        the host was still in it, and the status events after it, left about one such buffer a call, and web
        grew by them (the campaign soak, BENCHMARKS.md)."""
        if self._listener is None:
            return
        layer = get_channel_layer()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(LAYER_TIMEOUT_S):
                await layer.group_discard(call_group(self.call_id), self._channel)
                await layer.group_discard(voice_group(self.call_id), self._channel)
        # Not awaited: a receive cancelled mid-read may take the layer's own time to unwind (or fail); the call's
        # end does not wait for it.
        self._listener.cancel()
        self._listener.add_done_callback(_retrieve)

    async def _publish(self, event: dict[str, Any]) -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        message = event_message(self.call_id, event)
        try:
            async with asyncio.timeout(LAYER_TIMEOUT_S):
                await layer.group_send(call_group(self.call_id), message)
                await layer.group_send(LIVE_CALLS_GROUP, message)
        except Exception as error:  # the live view is best effort; the call goes on
            logger.warning("call %s: live event not published: %r", self.call_id, error)
