"""A supervisor steering a live call: whisper, hang up, transfer, do not call — each audited.

Every action is checked against the call (it must still be open), written to the audit log of operator
actions (who, what, when, which call; `contacts.OperatorAction`) and to the call's own events, then carried
out. What the running conversation must hear (guidance) goes to the call's group on the channel layer after
commit, where its conversation host listens (calls/conversation_host.py). Permission is the caller's to check
(`calls.permissions.STEER_LIVE_CALLS`): views refuse before calling these.
"""

import uuid

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils.translation import gettext

from calls.exceptions import SteeringError
from calls.live_events import STEER_MESSAGE_TYPE, call_group, masked_phone
from calls.models import Call, CallEvent
from calls.services.callbacks import call_event_record
from calls.services.placing import call_hang_up
from contacts.models import OperatorAction, Suppression
from contacts.phone_numbers import InvalidPhoneNumber, parse_phone_number
from contacts.services import operator_action_record, suppression_add
from voice.providers.base import ProviderError
from voice.providers.selection import telephony

MAX_WHISPER_CHARS = 500


def _open_call(call_id: uuid.UUID | str) -> Call:
    call = Call.objects.open().filter(pk=call_id).first()
    if call is None:
        raise SteeringError(gettext("This call has ended: there is nothing left to steer."))
    return call


def _audit(call: Call, actor: AbstractBaseUser, action: OperatorAction.Action, details: dict) -> None:
    entry = operator_action_record(actor=actor, action=action, target=call, details=details)
    payload = {"steer": action.value, "by": actor.get_username(), **details}
    call_event_record(call_id=call.pk, kind=CallEvent.Kind.SYSTEM, provider_event_id=f"steer:{entry.pk}",
                      payload=payload)  # fmt: skip


def _tell_conversation(call_id: uuid.UUID, message: dict) -> None:
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(call_group(call_id), {"type": STEER_MESSAGE_TYPE, **message})


def call_steer_whisper(*, call_id: uuid.UUID | str, actor: AbstractBaseUser, text: str) -> None:
    """Guidance for the agent, in its context before its next turn; the callee never hears it."""
    text = " ".join(text.split())
    if not text:
        raise SteeringError(gettext("Type the guidance to whisper to the agent."))
    if len(text) > MAX_WHISPER_CHARS:
        raise SteeringError(
            gettext("Keep a whisper under %(max)d characters (this one has %(length)d).")
            % {"max": MAX_WHISPER_CHARS, "length": len(text)}
        )
    with transaction.atomic():
        call = _open_call(call_id)
        _audit(call, actor, OperatorAction.Action.LIVE_WHISPER, {"text": text})
        message = {"action": "whisper", "text": text, "by": actor.get_username()}
        transaction.on_commit(lambda: _tell_conversation(call.pk, message))


def call_steer_take_over(*, call_id: uuid.UUID | str, actor: AbstractBaseUser) -> None:
    """The agent falls silent and the supervisor's microphone speaks on the call (`ws/calls/<uuid>/speak/`)."""
    _steer_conversation(call_id, actor, OperatorAction.Action.LIVE_TAKE_OVER, "take_over")


def call_steer_hand_back(*, call_id: uuid.UUID | str, actor: AbstractBaseUser) -> None:
    """The agent speaks again, going on from the transcript."""
    _steer_conversation(call_id, actor, OperatorAction.Action.LIVE_HAND_BACK, "hand_back")


def _steer_conversation(call_id: uuid.UUID | str, actor: AbstractBaseUser, audit: OperatorAction.Action,
                        action: str) -> None:  # fmt: skip
    with transaction.atomic():
        call = _open_call(call_id)
        _audit(call, actor, audit, {})
        message = {"action": action, "by": actor.get_username()}
        transaction.on_commit(lambda: _tell_conversation(call.pk, message))


def call_steer_hang_up(*, call_id: uuid.UUID | str, actor: AbstractBaseUser) -> None:
    """End the call now (the carrier hangs up; its status callbacks close the call as usual)."""
    with transaction.atomic():
        call = _open_call(call_id)
        _audit(call, actor, OperatorAction.Action.LIVE_HANG_UP, {})
        Call.objects.filter(pk=call.pk, outcome="").update(outcome="hung_up_by_supervisor")
    call_hang_up(call_id=call.pk)


def call_steer_transfer(*, call_id: uuid.UUID | str, actor: AbstractBaseUser, to: str) -> None:
    """Put the callee through to a person at `to` (`<Dial>` on the live call); the agent's stream ends."""
    try:
        number = parse_phone_number(to).e164
    except InvalidPhoneNumber as error:
        raise SteeringError(gettext("Cannot transfer to %(to)r: %(error)s") % {"to": to, "error": error}) from None
    call = _open_call(call_id)
    if not call.provider_call_id:
        raise SteeringError(gettext("The carrier has not confirmed this call yet: try again in a moment."))
    try:
        telephony().transfer(call.provider_call_id, to=number, caller_id=call.from_phone)
    except ProviderError as error:
        raise SteeringError(gettext("The carrier refused the transfer: %(error)s") % {"error": error.message}) from None
    with transaction.atomic():
        _audit(call, actor, OperatorAction.Action.LIVE_TRANSFER, {"to": masked_phone(number)})
        Call.objects.filter(pk=call.pk).update(outcome="transferred")


def call_steer_do_not_call(*, call_id: uuid.UUID | str, actor: AbstractBaseUser) -> None:
    """Suppress the callee's number now, while the call is still up (the call itself goes on)."""
    with transaction.atomic():
        call = _open_call(call_id)
        reason = f"Marked do-not-call by supervisor {actor.get_username()} during call {call.pk}"
        suppression_add(phone=call.to_phone, reason=reason, source=Suppression.Source.ADMIN, created_by=actor)
        _audit(call, actor, OperatorAction.Action.LIVE_DO_NOT_CALL, {})
