"""Canned phrases, rendered once per voice and cached as μ-law, for when a provider fails mid-call.

The promise is that a provider outage never leaves the callee in silence for more than a second, so these
must be playable without asking anyone: `FallbackPhrases.prepare()` renders every phrase through the
agent's TTS at call start (or reuses the process cache), and when that TTS cannot (it is the one that is
down, or there are no keys) the offline renderer — procedural speech-like audio, the simulated voice —
stands in. `audio(key)` never waits and never fails.
"""

import asyncio
import logging
from collections.abc import Mapping

from voice.phrases import Phrases
from voice.pipeline.breaker import stream_with_timeouts
from voice.providers.base import ProviderError
from voice.providers.speech import TextToSpeech, VoiceSpec
from voice.synthetic_audio import speech_like_ulaw

logger = logging.getLogger(__name__)

HOLD = "hold"
REPEAT = "repeat"
GOODBYE = "goodbye"


def fallback_phrases(phrases: Phrases) -> dict[str, str]:
    """The cached phrases' texts (in the call's language) by key."""
    return {HOLD: phrases.hold, REPEAT: phrases.repeat, GOODBYE: phrases.technical_goodbye}


DEFAULT_PHRASES: Mapping[str, str] = fallback_phrases(Phrases())  # English

# (tts name, voice, text) → μ-law. Process-wide: every call with the same voice shares one rendering.
_CACHE: dict[tuple[str, VoiceSpec, str], bytes] = {}
_RENDERING: dict[tuple[str, VoiceSpec, str], asyncio.Task[bytes]] = {}


def render_offline(text: str) -> bytes:
    """The offline rendering: speech-like μ-law as long as the text (no provider, no network)."""
    return speech_like_ulaw(text)


class FallbackPhrases:
    def __init__(
        self,
        tts: TextToSpeech | None,
        voice: VoiceSpec | None = None,
        phrases: Mapping[str, str] = DEFAULT_PHRASES,
        *,
        timeout_s: float = 5.0,
    ) -> None:
        self.tts = tts
        self.voice = voice or VoiceSpec()
        self.phrases = dict(phrases)
        self.timeout_s = timeout_s
        self._audio: dict[str, bytes] = {}

    async def prepare(self) -> None:
        """Render every phrase (concurrently, each at most once per process); failures fall back offline."""
        keys = list(self.phrases)
        rendered = await asyncio.gather(*(self._render(self.phrases[key]) for key in keys))
        self._audio.update(zip(keys, rendered, strict=True))

    def audio(self, key: str) -> bytes:
        """The phrase's μ-law audio; renders offline if `prepare()` has not finished. KeyError for an unknown key."""
        if key not in self._audio:
            self._audio[key] = render_offline(self.phrases[key])
        return self._audio[key]

    async def _render(self, text: str) -> bytes:
        if self.tts is None:
            return render_offline(text)
        key = (self.tts.name, self.voice, text)
        if key in _CACHE:
            return _CACHE[key]
        task = _RENDERING.get(key)
        if task is None:
            # One rendering per phrase and voice however many calls start at once; shielded, so a call that
            # hangs up mid-render does not waste it for the others.
            task = _RENDERING[key] = asyncio.ensure_future(self._render_with_tts(key, text))
            task.add_done_callback(_forget_rendering)
        try:
            return await asyncio.shield(task)
        except ProviderError as error:
            logger.warning("fallback phrase rendered offline: %s", error.message)
            return render_offline(text)

    async def _render_with_tts(self, key: tuple[str, VoiceSpec, str], text: str) -> bytes:
        assert self.tts is not None  # noqa: S101 - checked by the caller
        chunks = stream_with_timeouts(
            self.tts.synthesize(text, self.voice),
            first_item_s=self.timeout_s,
            idle_s=self.timeout_s,
            what=f"{self.tts.name} fallback phrase",
        )
        audio = b"".join([chunk async for chunk in chunks])
        if not audio:
            raise ProviderError(f"{self.tts.name} returned no audio for a fallback phrase", permanent=False)
        _CACHE[key] = audio
        return audio


def _forget_rendering(task: "asyncio.Task[bytes]") -> None:
    for key, pending in list(_RENDERING.items()):
        if pending is task:
            del _RENDERING[key]
    if not task.cancelled():
        task.exception()  # retrieved here: a failure with no caller left waiting is not an asyncio warning


def clear_cache() -> None:
    """Forget every rendered phrase (tests; or after a voice changes)."""
    _CACHE.clear()
