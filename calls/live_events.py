"""Live call events on the Channels layer: what the live views receive, and how the AMD verdict and a
supervisor's steering reach a running conversation.

Every event goes to `call.<uuid>` (that call's watchers, and its own conversation host) and to `calls.live`
(the live board), as `{"type": "call.event", "event": {...}}` — the type the live consumers forward. Status
changes and the AMD verdict carry a snapshot of the call (`call_snapshot`): the board can show a call it
has never seen from any one of them. No event carries a phone number in clear: the callee's number is
masked, and the words of a turn go through the same mask as the logs. Publishing is best effort: a live
view that misses an event never affects the call.
"""

import asyncio
import datetime
import logging
from collections.abc import Mapping
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from monitoring.logging import mask_phone_numbers

logger = logging.getLogger(__name__)

LIVE_CALLS_GROUP = "calls.live"
# The type of a supervisor's steering message on a call's group (whisper, take over, hand back).
STEER_MESSAGE_TYPE = "call.steer"


# A supervisor's voice, 20 ms μ-law frames while they have taken the call over, to the call's conversation only.
VOICE_MESSAGE_TYPE = "call.voice"


def call_group(call_id: object) -> str:
    return f"call.{call_id}"


def voice_group(call_id: object) -> str:
    """Only the call's conversation is in it: a supervisor's voice, 50 frames a second, reaches no watcher."""
    return f"voice.{call_id}"


def event_message(call_id: object, event: dict[str, Any]) -> dict[str, Any]:
    return {"type": "call.event", "event": {"call": str(call_id), **event}}


def masked_phone(phone: str) -> str:
    """`+14155550123` → `+***0123`: what a supervisor's screen may show of a callee's number."""
    return f"+***{phone[-4:]}" if phone else ""


def masked_text(text: str) -> str:
    """What a callee said, with any phone number in it masked (as in the logs)."""
    return mask_phone_numbers(text)


MOMENTS = ("created_at", "started_at", "answered_at", "ended_at")


def masked_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """A tool's arguments or result for a live view: text values masked (a transfer number, say)."""
    return {key: masked_text(value) if isinstance(value, str) else value for key, value in values.items()}


def _moment(value: object) -> str | None:
    return value.isoformat() if value is not None else None


def call_snapshot(call_id: object) -> dict[str, Any] | None:
    """The board's view of a call (status, who, when), with the number masked; None if there is no such call.

    Names of campaigns and agents are not read here (they belong to the app above): the board page maps the ids.
    """
    from calls.models import Call

    fields = ("status", "to_phone", "campaign_id", "agent_id", "answered_by", "outcome", *MOMENTS)
    row = Call.objects.filter(pk=call_id).values(*fields).first()
    if row is None:
        return None
    return {
        "kind": "status",
        "status": row["status"],
        "phone": masked_phone(row["to_phone"]),
        "campaign": row["campaign_id"],
        "agent": row["agent_id"],
        "answered_by": row["answered_by"],
        "outcome": row["outcome"],
        **{name: _moment(row[name]) for name in MOMENTS},
    }


def publish_call_event(call_id: object, event: dict[str, Any]) -> None:
    """From sync code (a webhook, a task, after commit): send `event` to the call's group and the live board."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = event_message(call_id, event)
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    try:
        if loop is not None:  # sync code called on an event loop's thread: sent by the loop, not waited for
            task = loop.create_task(_send_both(layer, call_id, message))
            _SENDING.add(task)
            task.add_done_callback(_SENDING.discard)
            return
        if _outbox is not None and _outbox.loop.is_running():
            # A sync view of the server (a status webhook): handed to the server's loop, not waited for. Django
            # runs sync views one at a time on one thread, so a wait here would be every callback's wait.
            _outbox.loop.call_soon_threadsafe(_outbox.put, layer, call_id, message)
            return
        async_to_sync(_send_both)(layer, call_id, message)  # a worker, a command: no loop to hand it to
    except Exception as error:  # best effort (Redis down or slow): one line, not a traceback
        logger.warning("call %s: live event not published: %r", call_id, error)


async def _send_both(layer: Any, call_id: object, message: dict[str, Any]) -> None:
    await layer.group_send(call_group(call_id), message)
    await layer.group_send(LIVE_CALLS_GROUP, message)


_SENDING: set[asyncio.Task] = set()  # sends scheduled on a running loop, referenced until done
OUTBOX_SIZE = 10_000  # events waiting for the layer; beyond, new ones are dropped (the board is best effort)


class Outbox:
    """The server's sync code publishes through this, on the server's loop: one task sends the events in the
    order they were published (a status never overtakes the one before it), and none of them is waited for."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue = asyncio.Queue(maxsize=OUTBOX_SIZE)
        self.sender: asyncio.Task | None = None

    def put(self, layer: Any, call_id: object, message: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait((layer, call_id, message))
        except asyncio.QueueFull:
            logger.warning("call %s: live event dropped (the channel layer is behind)", call_id)
            return
        if self.sender is None:
            self.sender = self.loop.create_task(self._send())

    async def _send(self) -> None:
        try:
            while not self.queue.empty():
                layer, call_id, message = self.queue.get_nowait()
                try:
                    await _send_both(layer, call_id, message)
                except Exception as error:  # best effort (Redis down or slow): one line, not a traceback
                    logger.warning("call %s: live event not published: %r", call_id, error)
        finally:
            self.sender = None


_outbox: Outbox | None = None


def serve_live_events_on(loop: asyncio.AbstractEventLoop | None) -> None:
    """The server's event loop (the ASGI lifespan's startup gives it): sync code of the server publishes there."""
    global _outbox  # one per serving process, by design
    _outbox = Outbox(loop) if loop is not None else None


def publish_call_status(call_id: object) -> None:
    """Publish the call's current status snapshot (read now, so events arriving out of order still converge)."""
    try:
        snapshot = call_snapshot(call_id)
    except Exception:
        logger.warning("call %s: no live status snapshot", call_id, exc_info=True)
        return
    if snapshot is not None:
        publish_call_event(call_id, snapshot)


def publish_call_status_on_commit(call_id: object) -> None:
    transaction.on_commit(lambda: publish_call_status(call_id))


def publish_status_change_on_commit(call_id: object, *, status: str, at: datetime.datetime,
                                    moment: str = "", answered_by: str = "") -> None:  # fmt: skip
    """After commit, the board hears of a move: a call's first (`initiated`) as its whole snapshot — the board
    meets it there — and every later one as the status and the moment it sets (`moment`: the Call's field),
    which needs no read: a status callback stays one UPDATE and one INSERT."""
    if status == "initiated":
        publish_call_status_on_commit(call_id)
        return
    event = {"kind": "status", "status": status, **({moment: at.isoformat()} if moment else {})}
    if answered_by:
        event["answered_by"] = answered_by
    transaction.on_commit(lambda: publish_call_event(call_id, event))
