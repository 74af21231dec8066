"""WebSocket routes of the calls app.

Browser routes are wrapped in the origin check and session auth. Twilio's media route must not be:
Twilio sends no Origin header (AllowedHostsOriginValidator would refuse every handshake) and no
session cookie, so the consumer checks the per-call token and the request signature instead.
"""

from channels.auth import AuthMiddlewareStack
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from calls.browser_consumers import BrowserTestCallConsumer
from calls.consumers import (
    CallFeedConsumer,
    ListenInConsumer,
    LiveCallsConsumer,
    SpeakConsumer,
    TwilioMediaStreamConsumer,
)


def browser_route(route: str, consumer: type) -> object:
    return path(route, AllowedHostsOriginValidator(AuthMiddlewareStack(consumer.as_asgi())))


websocket_urlpatterns = [
    browser_route("ws/calls/live/", LiveCallsConsumer),
    browser_route("ws/agents/<int:agent_id>/talk/", BrowserTestCallConsumer),
    browser_route("ws/calls/<uuid:call_id>/", CallFeedConsumer),
    browser_route("ws/calls/<uuid:call_id>/audio/", ListenInConsumer),
    browser_route("ws/calls/<uuid:call_id>/speak/", SpeakConsumer),
    path("ws/twilio/media/<uuid:call_id>/", TwilioMediaStreamConsumer.as_asgi()),
]
