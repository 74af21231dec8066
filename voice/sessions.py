"""The seam between a media stream and whatever converses on it.

`calls` owns the WebSocket (it knows the Call); once the stream has started it builds one
`VoiceSession` per call through `settings.VOICE_SESSION_FACTORY` and feeds it every inbound message.
The session answers through the `MediaSender` it is given. The conversation pipeline (STT → LLM → TTS,
`voice.pipeline.conversation.ConversationSession`) plugs in here; `ListeningSession` listens and says nothing.

Contract for implementations: `on_media` runs for every 20 ms frame on the consumer's event loop, so it
must return quickly and never block (no database, no synchronous I/O) — queue work for a task instead.
"""

import abc
from dataclasses import dataclass
from typing import Protocol

from voice.media_streams import Start


@dataclass(frozen=True)
class StreamInfo:
    """What a session knows of its call: our call id (a string: voice knows no models) and the stream."""

    call_id: str
    stream_sid: str
    call_sid: str
    parameters: dict[str, str]


class MediaSender(Protocol):
    """Outbound half of the stream, implemented by the consumer."""

    async def send_audio(self, payload: bytes) -> None:
        """Queue μ-law audio (any length; the carrier plays it in order)."""

    async def send_mark(self, name: str) -> None:
        """The carrier echoes `name` back once the audio queued before it has played."""

    async def clear(self) -> None:
        """Drop audio the carrier has not played yet (barge-in)."""

    async def hang_up(self) -> None:
        """End the stream; with nothing after `<Connect>` in the TwiML, the call ends."""


class VoiceSession(abc.ABC):
    @abc.abstractmethod
    async def start(self, info: StreamInfo, sender: MediaSender) -> None: ...

    @abc.abstractmethod
    async def on_media(self, payload: bytes) -> None: ...

    async def on_mark(self, name: str) -> None:  # noqa: B027 - optional hook
        """A mark we sent came back: the audio before it has been heard."""

    async def on_dtmf(self, digit: str) -> None:  # noqa: B027 - optional hook
        """The callee pressed a key."""

    async def server_stopping(self) -> None:  # noqa: B027 - optional hook
        """The server is stopping and the stream is gone before the call ended: end the call for the callee
        (a goodbye) where possible. `stop()` follows."""

    async def stop(self) -> None:  # noqa: B027 - optional hook
        """The stream ended (callee hung up, or we did); release resources."""


class ListeningSession(VoiceSession):
    """Listens and stays silent: the stand-in until the conversation pipeline exists."""

    def __init__(self) -> None:
        self.frames_heard = 0

    async def start(self, info: StreamInfo, sender: MediaSender) -> None:
        self.info = info

    async def on_media(self, payload: bytes) -> None:
        self.frames_heard += 1


def stream_info(*, call_id: str, start: Start) -> StreamInfo:
    return StreamInfo(
        call_id=call_id, stream_sid=start.stream_sid, call_sid=start.call_sid, parameters=dict(start.custom_parameters)
    )
