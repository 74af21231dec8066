"""Speech to text for one utterance, through the STT's circuit breaker and under the session's timeout."""

from collections.abc import Callable

from voice.pipeline.breaker import CircuitBreaker, with_timeout
from voice.providers.speech import SpeechToText


class Transcriber:
    def __init__(self, stt: SpeechToText, *, breakers: Callable[[str], CircuitBreaker], timeout_s: float) -> None:
        self.stt = stt
        self._breaker = breakers
        self.timeout_s = timeout_s

    async def transcribe(self, audio: bytes) -> str:
        """The utterance's text, stripped; ProviderError (a timeout, an open breaker) when there is none."""
        stt = self.stt
        transcript = await self._breaker(f"stt:{stt.name}").call(
            lambda: with_timeout(stt.transcribe(audio), self.timeout_s, f"stt:{stt.name}")
        )
        return transcript.text.strip()
