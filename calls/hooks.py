"""How `calls` tells higher apps what happened on a call, without importing them.

`campaigns` registers its handlers in its AppConfig.ready().

- Call finished: `calls` runs every handler after the transaction that made a call terminal commits,
  with the call's id. Handlers must be idempotent: a replayed terminal callback never calls them
  twice (the transition happens once), but a crash between commit and handler is possible, so the
  reaper may call them again.
- Call script: what the agent of a call says and may do (`CallScript`), by the agent's id; the app
  that owns agents loads it, `calls` reads no agent field itself.
- Callback requested (the conversation's schedule_callback tool): `calls` asks the registered
  handler, inside its own transaction, to dial the call's callee again at a given time; the handler
  returns whether it did (False: the call belongs to nothing that can call back).
- Call events (started = answered, ended, analyzed): `calls` runs every registered handler after commit with
  the call's id and the event's name; the app that tells the outside world (campaigns' outbound webhooks)
  registers one. Post-call analysis calls `notify_call_event_on_commit(call_id, "analyzed")` once it has
  written the call's summary and extracted fields.
- Test call gate: before the admin's "Place a test call" dials, `calls` asks the registered gates which
  of the selected contacts may not be called now and why (calling hours, do-not-call, caps); the app
  that owns those rules answers, so a test call keeps the same rules as a campaign's.
"""

import datetime
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from django.db import transaction

logger = logging.getLogger(__name__)

CallFinishedHandler = Callable[[uuid.UUID], None]
_call_finished_handlers: list[CallFinishedHandler] = []


def register_call_finished(handler: CallFinishedHandler) -> None:
    if handler not in _call_finished_handlers:
        _call_finished_handlers.append(handler)


def unregister_call_finished(handler: CallFinishedHandler) -> None:
    """Stop calling `handler` (a no-op if it was not registered)."""
    if handler in _call_finished_handlers:
        _call_finished_handlers.remove(handler)


def notify_call_finished_on_commit(call_id: uuid.UUID) -> None:
    """Schedule every registered handler for after the current transaction commits."""

    def run_handlers() -> None:
        for handler in list(_call_finished_handlers):
            try:
                handler(call_id)
            except Exception:
                # One failing handler must not stop the others; the reaper retries settlement.
                logger.exception("call-finished handler %s failed for call %s", handler.__qualname__, call_id)

    transaction.on_commit(run_handlers)


CALL_EVENTS = ("started", "ended", "analyzed")
CallEventHandler = Callable[[uuid.UUID, str], None]
_call_event_handlers: list[CallEventHandler] = []


def register_call_event(handler: CallEventHandler) -> None:
    if handler not in _call_event_handlers:
        _call_event_handlers.append(handler)


def unregister_call_event(handler: CallEventHandler) -> None:
    if handler in _call_event_handlers:
        _call_event_handlers.remove(handler)


def notify_call_event_on_commit(call_id: uuid.UUID, event: str) -> None:
    """Tell every registered handler, after the current transaction commits, that `event` happened to the call."""
    if event not in CALL_EVENTS:
        raise ValueError(f"{event!r} is not a call event; one of {', '.join(CALL_EVENTS)}.")

    def run_handlers() -> None:
        for handler in list(_call_event_handlers):
            try:
                handler(call_id, event)
            except Exception:
                logger.exception("call-event handler %s failed for %s of call %s", handler.__qualname__, event, call_id)

    transaction.on_commit(run_handlers)


CallbackRequestHandler = Callable[[uuid.UUID | str, datetime.datetime], bool]
_callback_request_handlers: list[CallbackRequestHandler] = []


def register_callback_requested(handler: CallbackRequestHandler) -> None:
    if handler not in _callback_request_handlers:
        _callback_request_handlers.append(handler)


def unregister_callback_requested(handler: CallbackRequestHandler) -> None:
    """Stop asking `handler` (a no-op if it was not registered)."""
    if handler in _callback_request_handlers:
        _callback_request_handlers.remove(handler)


def request_callback(call_id: uuid.UUID | str, at: datetime.datetime) -> bool:
    """Ask the registered handlers to call this call's callee again at `at`; True at the first that will."""
    return any(handler(call_id, at) for handler in list(_callback_request_handlers))


@dataclass(frozen=True)
class CallScript:
    """What a call's agent says and may do, as the conversation needs it."""

    system_prompt: str
    first_message: str
    voicemail_message: str = ""
    language: str = "en-US"
    voice_id: str = ""
    voice_model: str = ""
    voice_speed: float = 1.0
    llm_model: str = ""
    llm_temperature: float = 0.7
    can_end_call: bool = True
    can_opt_out: bool = True
    can_transfer: bool = False
    transfer_number: str = ""
    can_record_outcome: bool = False
    can_schedule_callback: bool = False
    outcome_fields: tuple[str, ...] = ()
    outcome_schema: Mapping[str, object] = field(default_factory=dict)  # JSON Schema of the extracted data
    silence_reprompt_s: float = 8.0  # the callee silent this long: "are you still there?"
    silence_hang_up_s: float = 20.0  # this long: a polite goodbye and a hang-up
    phrases: Mapping[str, str] = field(default_factory=dict)  # the agent's own wording of voice.phrases, by key


CallScriptLoader = Callable[[int], CallScript | None]
_call_script_loaders: list[CallScriptLoader] = []


def register_call_script(loader: CallScriptLoader) -> None:
    if loader not in _call_script_loaders:
        _call_script_loaders.append(loader)


def call_script(agent_id: int) -> CallScript | None:
    """The script of agent `agent_id`, from the first registered loader that knows it; None if none does."""
    for loader in list(_call_script_loaders):
        script = loader(agent_id)
        if script is not None:
            return script
    return None


# The dial-time gate of a test call: given contact ids and an instant, the contacts that may not be called
# then, each with the rule and when it opens, in words. The app that owns the calling rules registers it.
TestCallGate = Callable[[Sequence[int], datetime.datetime], Mapping[int, str]]
_test_call_gates: list[TestCallGate] = []


def register_test_call_gate(gate: TestCallGate) -> None:
    if gate not in _test_call_gates:
        _test_call_gates.append(gate)


def unregister_test_call_gate(gate: TestCallGate) -> None:
    """Stop asking `gate` (a no-op if it was not registered)."""
    if gate in _test_call_gates:
        _test_call_gates.remove(gate)


def refusals_for_test_calls(contact_ids: Sequence[int], now: datetime.datetime) -> dict[int, str]:
    """Why each refused contact may not get a test call at `now`, from every registered gate (the first
    reason given per contact); contacts absent from the answer may be called."""
    refusals: dict[int, str] = {}
    for gate in list(_test_call_gates):
        for contact_id, reason in gate(contact_ids, now).items():
            refusals.setdefault(contact_id, reason)
    return refusals
