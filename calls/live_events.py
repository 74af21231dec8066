"""Live call events on the Channels layer: what the live views receive, and how the AMD verdict reaches a
running conversation.

Every event goes to `call.<uuid>` (that call's watchers, and its own conversation host) and, from the
conversation, to `calls.live`, as `{"type": "call.event", "event": {...}}` — the type LiveCallsConsumer
forwards. Publishing is best effort: a live view that misses an event never affects the call.
"""

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

LIVE_CALLS_GROUP = "calls.live"


def call_group(call_id: object) -> str:
    return f"call.{call_id}"


def event_message(call_id: object, event: dict[str, Any]) -> dict[str, Any]:
    return {"type": "call.event", "event": {"call": str(call_id), **event}}


def publish_call_event(call_id: object, event: dict[str, Any]) -> None:
    """From sync code (a webhook, after commit): send `event` to the call's group."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(call_group(call_id), event_message(call_id, event))
    except Exception as error:  # best effort (Redis down or slow): one line, not a traceback
        logger.warning("call %s: live event not published: %r", call_id, error)
