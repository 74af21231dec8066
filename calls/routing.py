"""WebSocket routes of the calls app.

Browser routes are wrapped in the origin check and session auth. Twilio's media route (the
telephony issue adds it) must not be: Twilio sends no Origin header, so a per-call token and the
request signature protect it instead.
"""

from channels.auth import AuthMiddlewareStack
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from calls.consumers import LiveCallsConsumer


def browser_route(route: str, consumer: type) -> object:
    return path(route, AllowedHostsOriginValidator(AuthMiddlewareStack(consumer.as_asgi())))


websocket_urlpatterns = [
    browser_route("ws/calls/live/", LiveCallsConsumer),
]
