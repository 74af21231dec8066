"""Per-call media-stream tokens: stateless, signed with SECRET_KEY, bound to one call.

The voice webhook puts a token into `<Stream><Parameter name="token">`; Twilio hands it back in the
stream's `start.customParameters`, and the consumer accepts the stream only if it signs that call's id.
A token expires (MEDIA_STREAM_TOKEN_MAX_AGE_SECONDS) so a leaked one is not good forever.
"""

from django.conf import settings
from django.core import signing

SALT = "calls.media-stream"
PARAMETER = "token"


def media_token_for(call_id: object) -> str:
    return signing.TimestampSigner(salt=SALT).sign(str(call_id))


def media_token_valid(token: str, call_id: object) -> bool:
    try:
        value = signing.TimestampSigner(salt=SALT).unsign(token, max_age=settings.MEDIA_STREAM_TOKEN_MAX_AGE_SECONDS)
    except signing.BadSignature:
        return False
    return value == str(call_id)
