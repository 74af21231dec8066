"""The media stream of a call: one at a time.

Twilio opens one stream per `<Connect><Stream>`; a second stream for a call whose stream is still live is a
replay or a forgery (it would hear the agent and talk to it), so it is refused.
"""

import enum
import uuid

from django.db import transaction

from calls.models import Call, CallEvent
from calls.services.callbacks import call_record_media_start


class StreamStart(enum.Enum):
    STARTED = "started"
    UNKNOWN_CALL = "unknown call"  # no such call, another CallSid, or the call has ended
    ANOTHER_STREAM_LIVE = "another stream is live"


def call_media_stream_start(*, call_id: uuid.UUID, call_sid: str, stream_sid: str, payload: dict) -> StreamStart:
    """Record a stream's start unless the call is unknown or finished, or has a live stream (started, with no
    stop recorded). The call's row is locked meanwhile, so two streams racing for one call cannot both win."""
    with transaction.atomic():
        if not Call.objects.select_for_update().filter(pk=call_id).exists():
            return StreamStart.UNKNOWN_CALL
        ids = CallEvent.objects.filter(call_id=call_id, kind=CallEvent.Kind.MEDIA).values_list(
            "provider_event_id", flat=True
        )
        started = {event.removeprefix("start:") for event in ids if event.startswith("start:")}
        stopped = {event.removeprefix("stop:") for event in ids if event.startswith("stop:")}
        if started - stopped:
            return StreamStart.ANOTHER_STREAM_LIVE
        recorded = call_record_media_start(call_id=call_id, call_sid=call_sid, stream_sid=stream_sid, payload=payload)
        return StreamStart.STARTED if recorded else StreamStart.UNKNOWN_CALL
