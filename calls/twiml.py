"""The TwiML our voice webhook answers, and the public URLs of a call (DESIGN.md §7)."""

from django.conf import settings
from django.urls import reverse

from calls.media_tokens import PARAMETER, media_token_for
from voice.providers import twiml


def public_url(path: str) -> str:
    """`path` on the origin Twilio reaches us at (PUBLIC_BASE_URL): what Twilio requests and signs."""
    return f"{settings.PUBLIC_BASE_URL}{path}"


def webhook_url(kind: str, call_id: object) -> str:
    return public_url(reverse(f"calls:twilio-{kind}", kwargs={"call_id": call_id}))


def media_stream_url(call_id: object) -> str:
    """wss:// for an https PUBLIC_BASE_URL (production), ws:// for the plain-http demo."""
    base = settings.PUBLIC_BASE_URL
    scheme, _, rest = base.partition("://")
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/ws/twilio/media/{call_id}/"


def stream_twiml(call_id: object, *, language: str = "") -> str:
    """The media stream's TwiML; `language` (the call's, BCP 47) goes along as a `<Parameter>`: the stream's
    own record of what it speaks (the simulated callee speaks it too)."""
    parameters = {PARAMETER: media_token_for(call_id), "call": str(call_id)}
    if language:
        parameters["language"] = language
    return twiml.connect_stream(media_stream_url(call_id), parameters)


def hang_up_twiml() -> str:
    return twiml.hang_up()
