"""ASGI entry point (served by uvicorn through config.server): HTTP to Django, WebSockets to Channels.

Browser-facing WebSocket routes sit behind the origin check and session auth. Twilio's media route
(added by the telephony issue) must not: Twilio sends no Origin header, so its own per-call token and
signature protect it instead.
"""

import os
import re

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
django_asgi_app = get_asgi_application()  # before importing consumers: it sets Django up

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from calls import consumers  # noqa: E402
from calls.lifespan import CallsLifespan  # noqa: E402
from calls.routing import websocket_urlpatterns  # noqa: E402
from monitoring.logging import CallContextMiddleware  # noqa: E402

# A Twilio webhook (/twilio/<kind>/<call>/) or the media stream (/ws/twilio/media/<call>/): its log lines, and
# those of the conversation it carries, name the call.
CALL_PATH = re.compile(
    r"^/(?:ws/)?twilio/[a-z]+/(?P<call_id>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/"
)

consumers.preload()  # the voice pipeline imported now, not on the event loop under the first calls

application = ProtocolTypeRouter(
    {
        "http": CallContextMiddleware(django_asgi_app, path_pattern=CALL_PATH),
        "websocket": CallContextMiddleware(URLRouter(websocket_urlpatterns), path_pattern=CALL_PATH),
        "lifespan": CallsLifespan(),  # a stopping server writes every call's record first (calls/lifespan.py)
    }
)
