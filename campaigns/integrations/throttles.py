"""Rate limits of the API, per integration token and per client address (DRF throttles on the default cache:
Redis in production, so every web process counts together). Over the limit: 429 with Retry-After.

Rates come from settings at each request (API_RATE_PER_TOKEN, API_RATE_PER_IP: "600/min" style), so a
deployment or a test may change them without a restart of the class attributes DRF would otherwise keep.
"""

from django.conf import settings
from django.http import HttpRequest
from rest_framework.throttling import SimpleRateThrottle


def client_ip(request: HttpRequest) -> str:
    """The caller's address: REMOTE_ADDR, or behind TRUSTED_PROXY_COUNT proxies the address the outermost
    trusted proxy saw (X-Forwarded-For read from the right, so a client cannot forge it)."""
    count = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if count and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-min(count, len(hops))]
    return request.META.get("REMOTE_ADDR", "")


class SettingsRateThrottle(SimpleRateThrottle):
    setting = ""

    def get_rate(self) -> str | None:
        return getattr(settings, self.setting) or None


class TokenRateThrottle(SettingsRateThrottle):
    """Per integration token (per user for the browsable API's session); anonymous requests pass here."""

    scope = "token"
    setting = "API_RATE_PER_TOKEN"

    def get_cache_key(self, request: object, view: object) -> str | None:
        token = getattr(request, "auth", None)
        if token is not None and hasattr(token, "key_hash"):
            return self.cache_format % {"scope": self.scope, "ident": f"t{token.pk}"}
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return self.cache_format % {"scope": self.scope, "ident": f"u{user.pk}"}
        return None


class IPRateThrottle(SettingsRateThrottle):
    """Per client address, whoever it is: what a token's limit cannot catch (many tokens, no token)."""

    scope = "ip"
    setting = "API_RATE_PER_IP"

    def get_cache_key(self, request: object, view: object) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_ip(request)}
