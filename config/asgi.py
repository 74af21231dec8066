"""ASGI entry point for daphne: HTTP to Django, WebSockets to Channels.

Browser-facing WebSocket routes sit behind the origin check and session auth. Twilio's media route
(added by the telephony issue) must not: Twilio sends no Origin header, so its own per-call token and
signature protect it instead.
"""

import gc
import os
import sys

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
django_asgi_app = get_asgi_application()  # before importing consumers: it sets Django up

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from calls import consumers  # noqa: E402
from calls.routing import websocket_urlpatterns  # noqa: E402
from config import daphne_tuning  # noqa: E402

daphne_tuning.apply()  # daphne without per-message costs in its WebSocket and HTTP layers (see the module)
consumers.preload()  # the voice pipeline imported now, not on the event loop under the first calls

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter(websocket_urlpatterns),
    }
)

# Everything imported so far lives as long as the process: move it out of the garbage collector's reach.
# Otherwise each full collection walks those ~150,000 objects — a 40–60 ms stop of the event loop, during
# which no call's audio frame leaves (the p99 of the playout lag was made of these).
gc.freeze()
# A young-generation collection promotes whatever is alive at that moment: the requests and frames in
# flight. At the default threshold (700 new objects) that came every ~80 status callbacks, and the
# promotions set off older-generation collections, each a stop of the event loop (15–25 ms measured
# with gc callbacks under `make bench ONLY=webhooks` load). The server makes almost no cyclic garbage
# (DEBUG_SAVEALL found none over 4,000 callbacks), so collecting 10× less often costs little memory;
# a young collection of ~7,000 objects takes well under a millisecond.
gc.set_threshold(7000, 10, 10)

# The event loop shares the GIL with the thread that runs the database work (database_sync_to_async). While
# that thread runs Python, a frame that falls due waits for the GIL up to the switch interval: 5 ms by
# default, a quarter of a frame. 1 ms bounds that wait; the cost is more GIL hand-overs in busy threads.
sys.setswitchinterval(0.001)
