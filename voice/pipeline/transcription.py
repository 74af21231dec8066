"""Speech to text for the callee's utterances: streamed as they are spoken where the STT can, whole otherwise.

With a streaming STT (`SpeechToText.open_stream`), the call's stream is opened at the first utterance and
kept for the call. While the turn detector hears speech, the utterance's frames — from the pre-roll on —
are pushed as they arrive (`begin`, `push`), and the endpoint finishes the utterance (`end`), so the
transcript is nearly ready when the words end. A burst the detector discards is discarded by the stream.

A streamed utterance that fails — a provider error, a dropped connection, a timeout — is reported, and its
audio is transcribed again whole by the per-utterance path, so nothing the callee said is lost; only when
that fails too does the session hear of it. Each path runs under its own circuit breaker (`stt:<stream
name>`, `stt:<stt name>`) and the session's timeout; while the stream's breaker is open, utterances are not
streamed at all and go straight to the per-utterance path.
"""

from collections.abc import Awaitable, Callable

from voice.pipeline.breaker import BreakerState, CircuitBreaker, CircuitOpen, with_timeout
from voice.providers.base import ProviderError
from voice.providers.speech import SpeechStream, SpeechToText, Transcript


class Transcriber:
    """One per call. `begin`, `push`, `discard` and `end` are inline (per frame, never blocking)."""

    def __init__(
        self,
        stt: SpeechToText,
        *,
        language: str | None = None,
        breakers: Callable[[str], CircuitBreaker],
        timeout_s: float,
        on_failure: Callable[[str, str, ProviderError], None],
    ) -> None:
        self.stt = stt
        self.language = language  # the call's (BCP 47); each adapter passes it as its API wants it
        self._breaker = breakers
        self.timeout_s = timeout_s
        self._on_failure = on_failure
        self.stream: SpeechStream | None = None
        self._can_stream = True  # until the STT says it cannot
        self._streaming = False  # the current utterance is being streamed

    # ---- Inline, per frame ---------------------------------------------------------------------

    def begin(self, audio: bytes) -> None:
        """Speech started; `audio` is the utterance so far (pre-roll and onset)."""
        self._streaming = False
        if self.stream is None and self._can_stream:
            self.stream = self.stt.open_stream(language=self.language)
            self._can_stream = self.stream is not None
        if self.stream is None or self._breaker(f"stt:{self.stream.name}").state is BreakerState.OPEN:
            return
        self._streaming = True
        self.stream.push(audio)

    def push(self, frame: bytes) -> None:
        if self._streaming:
            self.stream.push(frame)  # type: ignore[union-attr]

    def discard(self) -> None:
        if self._streaming:
            self._streaming = False
            self.stream.discard()  # type: ignore[union-attr]

    def end(self) -> Awaitable[Transcript] | None:
        """The endpoint: the streamed transcript to come, or None when this utterance was not streamed."""
        if not self._streaming:
            return None
        self._streaming = False
        return self.stream.finish()  # type: ignore[union-attr]

    # ---- The worker ----------------------------------------------------------------------------

    async def transcribe(self, audio: bytes, streamed: Awaitable[Transcript] | None = None) -> str:
        """The utterance's text, stripped: the streamed transcript if it comes, else `audio` transcribed
        whole. ProviderError (a timeout, an open breaker) when neither gives one."""
        if streamed is not None and self.stream is not None:
            stream = self.stream
            what = f"stt:{stream.name}"
            try:
                transcript = await self._breaker(what).call(lambda: with_timeout(streamed, self.timeout_s, what))
            except CircuitOpen:
                pass  # opened since the utterance began: not a new failure
            except ProviderError as error:
                self._on_failure("stt", stream.name, error)
            else:
                return transcript.text.strip()
        stt = self.stt
        transcript = await self._breaker(f"stt:{stt.name}").call(
            lambda: with_timeout(stt.transcribe(audio, language=self.language), self.timeout_s, f"stt:{stt.name}")
        )
        return transcript.text.strip()

    async def aclose(self) -> None:
        if self.stream is not None:
            await self.stream.aclose()
