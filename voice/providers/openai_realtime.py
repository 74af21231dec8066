"""OpenAI speech to text over the Realtime API: one WebSocket per call, the callee's μ-law passed through.

`OpenAIRealtimeSpeechToText.open_stream()` gives one call a `RealtimeTranscription`. It connects at the
first audio pushed (`client.realtime.connect(extra_query={"intent": "transcription"})`) and configures a
transcription session: input `audio/pcmu` (Twilio's 8 kHz μ-law as it arrives: nothing is transcoded),
the transcription model, language and prompt, and turn detection off (`null`) — our own endpointer
decides when an utterance ends. Pushed audio is appended (base64) in the background, several frames to an
event when the loop is busy; `finish()` commits the buffer, and the utterance's transcript is the
`conversation.item.input_audio_transcription.completed` text (its `.delta`s joined, if that is empty),
matched through the item id of the `input_audio_buffer.committed` event — commits are acknowledged in
order, so the k-th acknowledgement belongs to the k-th commit.

Failures become ProviderError for the utterances concerned: an `error` event (the commit it names, else
everything in flight), a `.failed` transcription, a transcript later than `realtime_transcript_timeout_s`
after the commit, a connection that cannot be opened or drops. A stalled or dropped connection is closed
and the next utterance opens a new one; the utterance whose audio went to the lost connection fails at
`finish()`. The session then transcribes that audio whole through `transcribe`, which this adapter
delegates to the HTTP `OpenAISpeechToText`. (The SDK's own reconnect stays off: the session would have to
be configured again, and the audio in flight is lost either way.)

The transcription-only handshake — `?intent=transcription` with no model in the URL, then `session.update`
with `type: "transcription"` and `turn_detection: null` — is the one in OpenAI's "Realtime transcription"
guide and the installed SDK's types (the guide recommends `gpt-live-transcribe`; `OPENAI_TRANSCRIPTION_MODEL`
chooses). It is tested against a fake server here, not against the live API.
"""

import asyncio
import base64
import contextlib
from collections import deque
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import openai
import websockets

from voice.providers.base import ProviderError
from voice.providers.openai import OpenAIOptions, OpenAISpeechToText
from voice.providers.speech import SpeechStream, Transcript, classify_status

REALTIME_QUERY = {"intent": "transcription"}
SESSION_UPDATE_ID = "session_update"  # names our session.update, so an error about it can be told apart
CLOSE_TIMEOUT_S = 1.0  # the close handshake: a stalled server must not hold up the end of a call


class OpenAIRealtimeSpeechToText(OpenAISpeechToText):
    """`OpenAISpeechToText` (whole utterances over HTTP: the fallback) that also streams each call."""

    def open_stream(self, *, language: str | None = None, prompt: str = "") -> "RealtimeTranscription":
        return RealtimeTranscription(self._client, self._options, language=language, prompt=prompt)


@dataclass(eq=False)
class _Utterance:
    result: asyncio.Future[Transcript]
    event_id: str  # of its commit, which an `error` event names
    deltas: list[str] = field(default_factory=list)

    def settle(self, transcript: Transcript | None = None, error: ProviderError | None = None) -> None:
        if not self.result.done():
            if error is not None:
                self.result.set_exception(error)
            else:
                self.result.set_result(transcript or Transcript(""))


@dataclass(eq=False)
class _Link:
    """One WebSocket connection and what is in flight on it."""

    outbox: asyncio.Queue[tuple[str, Any]] = field(default_factory=asyncio.Queue)
    task: asyncio.Task | None = None
    in_flight: list[_Utterance] = field(default_factory=list)  # committed (or about to be), not yet settled
    unacknowledged: deque[_Utterance] = field(default_factory=deque)  # commit sent, no item id yet
    by_item: dict[str, _Utterance] = field(default_factory=dict)


class _Pending:
    """`finish()`'s awaitable: the utterance's transcript, due by `deadline` (loop time)."""

    def __init__(self, result: asyncio.Future[Transcript], deadline: float, stream: "RealtimeTranscription") -> None:
        self.result, self.deadline, self._stream = result, deadline, stream

    def __await__(self) -> Generator[Any, None, Transcript]:
        return self._wait().__await__()

    async def _wait(self) -> Transcript:
        try:
            async with asyncio.timeout_at(self.deadline):
                return await asyncio.shield(self.result)
        except TimeoutError:
            limit = self._stream.options.realtime_transcript_timeout_s
            error = ProviderError(f"openai realtime: no transcript within {limit:g}s", permanent=False)
            self._stream.stalled(error)
            raise error from None


def _retrieve(future: asyncio.Future) -> None:
    if not future.cancelled():
        future.exception()  # a transcript nobody awaits any more must not log "never retrieved"


class RealtimeTranscription(SpeechStream):
    name = "openai-realtime"

    def __init__(
        self, client: openai.AsyncOpenAI, options: OpenAIOptions, *, language: str | None = None, prompt: str = ""
    ) -> None:
        self._client = client
        self.options = options
        self.language = language.split("-")[0].lower() if language else None  # ISO-639-1, as the API wants
        self.prompt = prompt
        self._link: _Link | None = None
        self._has_audio = False  # the current utterance has audio on the link
        self._lost: ProviderError | None = None  # why the current utterance's link is gone (it cannot finish)
        self._commits = 0
        self._closed = False
        self.connections = 0  # opened so far (tests, logs)

    @property
    def connected(self) -> bool:
        """A connection is open or opening (tests, logs); it is dropped on a failure and reopened by audio."""
        return self._link is not None

    # ---- SpeechStream (inline, never blocking) -------------------------------------------------

    def push(self, ulaw: bytes) -> None:
        if self._lost is not None or self._closed or not ulaw:
            return
        link = self._link or self._connect()
        link.outbox.put_nowait(("append", ulaw))
        self._has_audio = True

    def discard(self) -> None:
        if self._has_audio and self._lost is None and self._link is not None:
            self._link.outbox.put_nowait(("clear", None))
        self._has_audio, self._lost = False, None

    def finish(self) -> _Pending:
        loop = asyncio.get_running_loop()
        result: asyncio.Future[Transcript] = loop.create_future()
        result.add_done_callback(_retrieve)
        has_audio, lost, self._has_audio, self._lost = self._has_audio, self._lost, False, None
        if lost is not None:
            result.set_exception(ProviderError(f"{lost.message} (mid-utterance)", permanent=lost.permanent))
        elif self._closed or (has_audio and self._link is None):
            result.set_exception(ProviderError("openai realtime: stream closed", permanent=False))
        elif not has_audio:
            result.set_result(Transcript("", self.language))
        else:
            assert self._link is not None  # noqa: S101 - has_audio means a link took it
            self._commits += 1
            utterance = _Utterance(result, f"commit_{self._commits}")
            self._link.in_flight.append(utterance)
            self._link.outbox.put_nowait(("commit", utterance))
        return _Pending(result, loop.time() + self.options.realtime_transcript_timeout_s, self)

    async def aclose(self) -> None:
        self._closed = True
        link = self._link
        if link is not None:
            self._drop(link, ProviderError("openai realtime: stream closed", permanent=False))
            if link.task is not None:
                await asyncio.gather(link.task, return_exceptions=True)

    def stalled(self, error: ProviderError) -> None:
        """A transcript came too late: the connection is not to be trusted any more."""
        if self._link is not None:
            self._drop(self._link, error)

    # ---- The connection ------------------------------------------------------------------------

    def _connect(self) -> _Link:
        link = self._link = _Link()
        self.connections += 1
        link.task = asyncio.create_task(self._run(link), name=f"openai-realtime-{self.connections}")
        return link

    def _drop(self, link: _Link, error: ProviderError) -> None:
        """Fail what is in flight on `link` and close it; the next utterance opens a new one."""
        if self._link is link:
            self._link = None
            self._lost = error if self._has_audio else None
        for utterance in link.in_flight:
            utterance.settle(error=error)
        link.in_flight.clear()
        if link.task is not None and link.task is not asyncio.current_task():
            link.task.cancel()

    async def _run(self, link: _Link) -> None:
        connection = None
        try:
            async with asyncio.timeout(self.options.connect_timeout_s):
                connection = await self._client.realtime.connect(extra_query=REALTIME_QUERY).enter()
            await connection.session.update(session=self._session(), event_id=SESSION_UPDATE_ID)  # type: ignore[arg-type]
            async with asyncio.TaskGroup() as group:
                group.create_task(self._send(connection, link))
                group.create_task(self._receive(connection, link))
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the task's boundary: every failure here is the provider's
            self._drop(link, _provider_error(error))
        finally:
            if connection is not None:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(CLOSE_TIMEOUT_S):
                        await connection.close()

    def _session(self) -> dict[str, Any]:
        transcription: dict[str, Any] = {"model": self.options.transcription_model}
        if self.language:
            transcription["language"] = self.language
        if self.prompt:
            transcription["prompt"] = self.prompt
        return {
            "type": "transcription",
            "audio": {
                "input": {
                    "format": {"type": "audio/pcmu"},
                    "transcription": transcription,
                    "turn_detection": None,  # our endpointer commits; the server must not
                }
            },
        }

    async def _send(self, connection: Any, link: _Link) -> None:
        while True:
            batch = [await link.outbox.get()]
            while not link.outbox.empty():
                batch.append(link.outbox.get_nowait())
            audio = bytearray()
            for kind, item in batch:
                if kind == "append":
                    audio += item
                    continue
                if audio:
                    await connection.input_audio_buffer.append(audio=base64.b64encode(audio).decode())
                    audio.clear()
                if kind == "commit":
                    link.unacknowledged.append(item)
                    await connection.input_audio_buffer.commit(event_id=item.event_id)
                else:
                    await connection.input_audio_buffer.clear()
            if audio:
                await connection.input_audio_buffer.append(audio=base64.b64encode(audio).decode())

    async def _receive(self, connection: Any, link: _Link) -> None:
        async for event in connection:
            kind = getattr(event, "type", "")
            if kind == "input_audio_buffer.committed":
                if link.unacknowledged:
                    link.by_item[event.item_id] = link.unacknowledged.popleft()
            elif kind == "conversation.item.input_audio_transcription.delta":
                if (utterance := link.by_item.get(event.item_id)) is not None:
                    utterance.deltas.append(event.delta or "")
            elif kind == "conversation.item.input_audio_transcription.completed":
                if (utterance := link.by_item.pop(event.item_id, None)) is not None:
                    text = (event.transcript or "".join(utterance.deltas)).strip()
                    self._settle(link, utterance, Transcript(text, self.language))
            elif kind == "conversation.item.input_audio_transcription.failed":
                if (utterance := link.by_item.pop(event.item_id, None)) is not None:
                    message = getattr(event.error, "message", None) or "transcription failed"
                    self._settle(link, utterance, error=ProviderError(f"openai realtime: {message}", permanent=False))
            elif kind == "error":
                self._on_error(link, event.error)
        raise ProviderError("openai realtime: the server closed the connection", permanent=False)

    def _on_error(self, link: _Link, details: Any) -> None:
        """An `error` event: the commit it names fails; one about the session configuration ends the link;
        one naming neither fails everything in flight."""
        error_type = getattr(details, "type", "") or ""
        error = ProviderError(
            f"openai realtime: {error_type or 'error'}: {getattr(details, 'message', '')}"[:500],
            permanent=error_type == "invalid_request_error",
        )
        about = getattr(details, "event_id", None)
        if about == SESSION_UPDATE_ID:
            self._drop(link, error)  # e.g. an unknown model: nothing on this link will be transcribed
            return
        named = next((u for u in link.unacknowledged if u.event_id == about), None)
        if named is not None:
            link.unacknowledged.remove(named)  # no acknowledgement will come for it
            self._settle(link, named, error=error)
            return
        for utterance in list(link.in_flight):
            # Failed but kept in the acknowledgement queue: later commits still line up with their items.
            utterance.settle(error=error)

    @staticmethod
    def _settle(
        link: _Link, utterance: _Utterance, transcript: Transcript | None = None, error: ProviderError | None = None
    ) -> None:
        utterance.settle(transcript, error)
        with contextlib.suppress(ValueError):
            link.in_flight.remove(utterance)


def _provider_error(error: BaseException) -> ProviderError:
    if isinstance(error, ProviderError):
        return error
    if isinstance(error, ExceptionGroup):
        return _provider_error(error.exceptions[0])
    if isinstance(error, TimeoutError):
        return ProviderError("openai realtime: timed out connecting", permanent=False)
    if isinstance(error, websockets.exceptions.InvalidStatus):
        response = error.response
        return classify_status("openai realtime", response.status_code, response.body.decode(errors="replace")[:200])
    return ProviderError(f"openai realtime: {type(error).__name__}: {error}"[:500], permanent=False)
