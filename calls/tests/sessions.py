"""A probe voice session for the end-to-end tests: it plays audio with marks and records their echoes.

It writes a CallEvent per echoed mark so the test can see, through the database, that the carrier
returned each mark after its audio had played and returned the rest at once on `clear`. (A real
session must not touch the database per frame; marks are rare, and this is a test.)
"""

from channels.db import database_sync_to_async

from calls.models import CallEvent
from calls.services import call_event_record
from voice.sessions import MediaSender, StreamInfo, VoiceSession
from voice.synthetic_audio import silence_ulaw, tone_ulaw

PLAYED_SECONDS = 1.0  # agent audio before the first mark
# Agent audio after it, dropped by `clear`: longer than the whole call, so only `clear` can return its mark.
DROPPED_SECONDS = 60.0


class MarkProbeSession(VoiceSession):
    async def start(self, info: StreamInfo, sender: MediaSender) -> None:
        self.info, self.sender, self.inbound_frames = info, sender, 0
        await sender.send_audio(tone_ulaw(440, round(PLAYED_SECONDS * 1000)))
        await sender.send_mark("played")
        await sender.send_audio(silence_ulaw(round(DROPPED_SECONDS * 1000)))  # only its length matters
        await sender.send_mark("dropped")

    async def on_media(self, payload: bytes) -> None:
        self.inbound_frames += 1  # the carrier's clock: one inbound frame per 20 ms it plays

    async def on_mark(self, name: str) -> None:
        if name == "played":
            await self.sender.clear()  # barge-in: drop the rest
        await database_sync_to_async(call_event_record)(
            call_id=self.info.call_id,
            kind=CallEvent.Kind.SYSTEM,
            provider_event_id=f"mark:{name}",
            payload={"inbound_frames_before": self.inbound_frames},
        )
