"""Webhook signatures: HMAC-SHA256 over "<timestamp>.<body>" with the subscription's secret.

Every delivery carries

    Callwright-Signature: t=1765100000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd

where `t` is the Unix time of the attempt and `v1` the hex HMAC-SHA256 of `f"{t}.".encode() + body` keyed
with the secret. A receiver recomputes it over the raw body, compares in constant time, and refuses a
`t` further than the replay window (WEBHOOK_SIGNATURE_TOLERANCE_SECONDS, 5 minutes) from its own clock:
a captured delivery cannot be replayed later. Each attempt is signed anew, with its own `t`.
"""

import hashlib
import hmac

SIGNATURE_HEADER = "Callwright-Signature"
DEFAULT_TOLERANCE_SECONDS = 300


def sign(*, secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(*, secret: str, header: str, body: bytes, now: float, tolerance: int = DEFAULT_TOLERANCE_SECONDS) -> bool:
    """Whether `header` signs `body` with `secret`, at a time within `tolerance` seconds of `now`."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret=secret, timestamp=timestamp, body=body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))
