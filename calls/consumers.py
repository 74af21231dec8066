"""WebSocket feeds for supervisors' browsers."""

from channels.generic.websocket import AsyncJsonWebsocketConsumer

LIVE_CALLS_GROUP = "calls.live"


def call_group(call_id: object) -> str:
    return f"call.{call_id}"


class LiveCallsConsumer(AsyncJsonWebsocketConsumer):
    """Streams every live-call event (status, turns, latency) published to the `calls.live` group.

    Only staff who may view calls are accepted; anyone else is closed with code 4403 before any
    event is sent. The feed is read-only: messages from the browser are ignored.
    """

    async def connect(self) -> None:
        user = self.scope.get("user")
        if not (user and user.is_authenticated and user.is_staff and await self._may_view_calls(user)):
            await self.close(code=4403)
            return
        await self.channel_layer.group_add(LIVE_CALLS_GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(LIVE_CALLS_GROUP, self.channel_name)

    async def call_event(self, message: dict) -> None:
        """Group messages of type `call.event` carry {"event": {...}}; forward the event as JSON."""
        await self.send_json(message["event"])

    @staticmethod
    async def _may_view_calls(user: object) -> bool:
        from channels.db import database_sync_to_async

        return await database_sync_to_async(user.has_perm)("calls.view_call")
