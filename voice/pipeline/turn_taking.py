"""Turn-taking: voice activity detection (webrtcvad) plus endpointing, on 20 ms μ-law frames.

`TurnDetector.feed(frame)` is synchronous and costs tens of microseconds, so the media handler calls it
inline on the event loop for every inbound frame. It returns events (usually none):

- `SpeechStarted`: enough voiced frames in a short window (default 6 of the last 10, i.e. ≥ 120 ms).
- `BargeInCandidate`: the agent is speaking (`agent_speaking = True`, set by the session) and the caller
  has now spoken for `barge_in_min_ms`. A *candidate*: the session may duck or pause at once, and confirm
  the interruption with `classify_utterance` once words are known, so "mhm" doesn't stop the agent.
- `SpeechEnded`: `silence_ms` of silence after at least `min_speech_ms` of speech: the caller's turn is over.
  It carries the utterance's μ-law audio with `pre_roll_ms` before the onset, so STT hears the first syllable.
- `SpeechDiscarded`: the burst was shorter than `min_speech_ms` — a click, a cough, a bump: not a turn,
  not an interruption.

What is speech. A frame's level is measured against the line's noise floor (the quietest frame over the last
two seconds): under floor + `noise_margin_db` (or under `min_level_dbfs`) it is silence whatever webrtcvad
says — webrtcvad alone calls steady hiss "speech", which kept white noise at −45/−40 dBFS "talking" for
seconds. Far above the floor, webrtcvad decides; in the band between, where noise, babble and quiet
voices meet, the Silero model decides (voice/pipeline/speech_model.py), so it runs only on those frames.
Over a background that comes and goes (voices, music) a frame must also rise over the line's ambient level
(the mean of the frames between turns) by up to `ambient_margin_db` — by as much as that background
fluctuates, so a steady hiss costs no more than its noise margin; the ambient follows the line an onset
window late and never takes in the frames that began a turn or were taken for speech, so a caller's first
syllables do not raise the gate over their next ones. While the agent speaks, its echo is kept out by raising
the gate to the agent's recent level minus the echo's expected loss (`agent_audio` feeds what the agent
sent); what passes that gate is a voice, for webrtcvad to judge. A lone voiced frame does not hold a turn
open: the silence that ends it is timed from the last of two voiced frames in a row.
"""

import math
import re
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum

import webrtcvad

from voice import codec
from voice.languages import ENGLISH, Language
from voice.pipeline import speech_model
from voice.pipeline.speech_model import SpeechModel


@dataclass(frozen=True)
class TurnTakingConfig:
    silence_ms: int = 600  # silence that ends a turn (endpointing)
    min_speech_ms: int = 200  # shorter bursts are noise
    barge_in_min_ms: int = 200  # caller speech over the agent before a barge-in candidate
    vad_mode: int = 2  # webrtcvad aggressiveness 0–3
    start_window_frames: int = 10
    start_voiced_frames: int = 6
    min_level_dbfs: float = -45.0
    pre_roll_ms: int = 300
    max_utterance_ms: int = 30_000  # a caller who never pauses still gets a turn end
    min_interruption_words: int = 2
    floor_window_ms: int = 2_000  # the line's noise floor: the quietest frame level over this window
    speech_snr_db: float = 9.0  # a frame this far above the floor holds speech (for the honest end of speech)
    # The adaptive gate: under floor + noise_margin_db a frame is silence, whatever webrtcvad says (it calls
    # line hiss speech); over floor + sure_snr_db webrtcvad decides; in between, the speech model does.
    adaptive_floor: bool = True
    noise_margin_db: float = 6.0
    sure_snr_db: float = 20.0
    model_threshold: float = 0.5
    use_model: bool = True
    # The agent's own voice echoing back: the gate stays this far under the agent's recent level (its peak,
    # falling by echo_decay_db a frame), plus the margin.
    echo_return_loss_db: float = 20.0
    echo_decay_db: float = 0.5
    # Background voices (a TV, a room): between turns the line's ambient level is tracked (its average in dB);
    # a frame must rise above it by as much as it exceeds the floor, at most ambient_margin_db. Within a turn,
    # frames more than speech_range_db under the turn's loudest do not keep it open.
    ambient_margin_db: float = 9.0
    speech_range_db: float = 15.0

    def __post_init__(self) -> None:
        if not 0 <= self.vad_mode <= 3:
            raise ValueError("vad_mode must be 0–3")
        if not 0 < self.start_voiced_frames <= self.start_window_frames:
            raise ValueError("start_voiced_frames must be within 1..start_window_frames")


@dataclass(frozen=True)
class SpeechStarted:
    at_ms: int  # stream time of the first voiced frame of the onset window


@dataclass(frozen=True)
class BargeInCandidate:
    at_ms: int  # when the candidate was raised
    speech_ms: int


@dataclass(frozen=True)
class SpeechEnded:
    started_ms: int
    ended_ms: int  # end of the last frame the detector called voiced
    detected_ms: int  # when the detector decided the turn was over
    speech_ms: int
    audio: bytes = field(repr=False)  # μ-law, pre-roll included
    # End of the last frame that held the caller's speech (above the line's noise floor), found independently of
    # the decision: what a turn's latency is measured from, so a late decision shows as a slow turn.
    speech_end_ms: int = 0

    @property
    def endpoint_delay_ms(self) -> int:
        """How long after the speech really ended the detector decided so."""
        return self.detected_ms - self.speech_end_ms


@dataclass(frozen=True)
class SpeechDiscarded:
    started_ms: int
    speech_ms: int


TurnEvent = SpeechStarted | BargeInCandidate | SpeechEnded | SpeechDiscarded
_NO_EVENTS: tuple[TurnEvent, ...] = ()

# A frame's energy (sum of squared samples) without a Python-level loop: each code's square split into its
# four bytes, one 256-entry translate table per byte plane, and `sum()` over each translated frame (C loops).
# Exact, and cheaper than summing a table lookup per sample in Python: this runs for every inbound frame.
_SQUARE_PLANES = tuple(
    bytes(((value * value) >> (8 * plane)) & 0xFF for value in codec.ULAW_TO_LINEAR) for plane in range(4)
)
_FULL_SCALE_ENERGY = 32768.0**2 * codec.FRAME_BYTES


def frame_energy(ulaw: bytes) -> int:
    """Sum of the squared decoded samples of μ-law audio."""
    low, mid, high, top = _SQUARE_PLANES
    return (
        sum(ulaw.translate(low))
        + (sum(ulaw.translate(mid)) << 8)
        + (sum(ulaw.translate(high)) << 16)
        + (sum(ulaw.translate(top)) << 24)
    )


class NoiseFloor:
    """The line's noise floor: the quietest 20 ms frame level over a sliding window (minimum statistics).

    Speech has gaps between syllables where the level falls to the line's own noise; steady noise never rises
    above it. A monotonic deque keeps the window's minimum at O(1) per frame. Levels are in dBFS.
    """

    def __init__(self, window_frames: int) -> None:
        self.window = window_frames
        self._index = 0
        self._minima: deque[tuple[int, float]] = deque()  # (frame index, level), levels increasing

    def push(self, level_db: float) -> float:
        """Add one frame's level; the floor now."""
        minima = self._minima
        while minima and minima[-1][1] >= level_db:
            minima.pop()
        minima.append((self._index, level_db))
        if minima[0][0] <= self._index - self.window:
            minima.popleft()
        self._index += 1
        return minima[0][1]

    @property
    def level(self) -> float:
        return self._minima[0][1] if self._minima else -math.inf


_SILENT_DB = -100.0  # the level given to digital silence (log of zero)


def energy_dbfs(energy: int) -> float:
    """A frame's energy (`frame_energy`) as an RMS level in dBFS."""
    return 10 * math.log10(energy / _FULL_SCALE_ENERGY) if energy else _SILENT_DB


def frame_level_dbfs(ulaw_frame: bytes) -> float:
    """RMS level of a 20 ms μ-law frame in dB relative to full scale (−inf for digital silence)."""
    energy = frame_energy(ulaw_frame)
    return 10 * math.log10(energy / _FULL_SCALE_ENERGY) if energy else -math.inf


class TurnDetector:
    """One per call. Feed every inbound 20 ms μ-law frame in order; set `agent_speaking` as playback starts/stops."""

    def __init__(self, config: TurnTakingConfig | None = None) -> None:
        self.config = config or TurnTakingConfig()
        self.agent_speaking = False
        self._vad = webrtcvad.Vad(self.config.vad_mode)
        self._min_energy = _FULL_SCALE_ENERGY * 10 ** (self.config.min_level_dbfs / 10)
        self._frame_ms = codec.FRAME_MS
        self._now_ms = 0
        # Frames before an onset, kept for the pre-roll; their verdicts, with a running count of the voiced
        # ones in the onset window, so a silent frame costs no list building.
        self._recent: deque[bytes] = deque(maxlen=self.config.start_window_frames + self._pre_roll)
        self._window: deque[bool] = deque(maxlen=self.config.start_window_frames)
        self._voiced_in_window = 0
        self._in_speech = False
        self._started_ms = 0
        self._last_voiced_end_ms = 0
        self._barge_in_raised = False
        self._audio = bytearray()
        self.floor = NoiseFloor(max(1, self.config.floor_window_ms // codec.FRAME_MS))
        self._last_speech_end_ms = 0  # end of the last frame above the floor by the speech margin
        self._level = _SILENT_DB
        self._echo_db = _SILENT_DB
        self._ambient_db = _SILENT_DB
        self._ambient_frames = 0
        self._ambient_pending: deque[float | None] = deque(maxlen=self.config.start_window_frames)
        self._peak_db = _SILENT_DB
        self._previous_voiced = False
        self.model: SpeechModel | None = None
        if self.config.adaptive_floor and self.config.use_model and speech_model.available():
            self.model = SpeechModel()
        self.model_frames = 0  # frames the model was asked about (the unsure band)

    def agent_audio(self, ulaw_frame: bytes) -> None:
        """A frame of the agent's voice was sent: its echo may come back at its level minus the echo loss."""
        level = energy_dbfs(frame_energy(ulaw_frame))
        self._echo_db = max(level, self._echo_db)

    @property
    def _pre_roll(self) -> int:
        return max(1, self.config.pre_roll_ms // codec.FRAME_MS)

    @property
    def in_speech(self) -> bool:
        return self._in_speech

    @property
    def speech_audio(self) -> bytes:
        """The utterance so far while in speech (pre-roll included): what `SpeechEnded.audio` will begin with."""
        return bytes(self._audio) if self._in_speech else b""

    def is_voiced(self, ulaw_frame: bytes) -> bool:
        """One 160-byte μ-law frame: speech or not (see the module docstring). Updates the noise floor."""
        config = self.config
        self._level = level = energy_dbfs(frame_energy(ulaw_frame))
        floor = self.floor.push(level)
        self._echo_db -= config.echo_decay_db
        if not config.adaptive_floor:
            pcm = codec.ulaw_to_pcm16(ulaw_frame)
            return level >= config.min_level_dbfs and self._vad.is_speech(pcm, codec.SAMPLE_RATE)
        if self._in_speech:
            self._peak_db = max(self._peak_db, level)
            within_turn = self._peak_db - config.speech_range_db
        else:
            self._peak_db, within_turn = _SILENT_DB, _SILENT_DB
        echo_gate = self._echo_db - config.echo_return_loss_db + config.noise_margin_db
        # Over a background that comes and goes (voices, music) a frame must rise the full margin over its mean; a
        # steady one (hiss) sits on its floor, and the noise margin over the floor is the gate.
        spread = max(0.0, self._ambient_db - floor)
        ambient_gate = self._ambient_db + min(config.ambient_margin_db, spread)
        gate = max(config.min_level_dbfs, floor + config.noise_margin_db, within_turn, ambient_gate,
                   echo_gate)  # fmt: skip
        sure = max(floor, self._ambient_db) + config.sure_snr_db  # over a fluctuating background (music), its mean
        if echo_gate >= gate:
            # The agent is speaking and its echo sets the gate, far over the line's noise: what passes is a voice —
            # the caller barging in, or an echo louder than expected — which the model cannot tell apart by sound
            # either; webrtcvad judges it, and the model keeps to its band near the floor.
            sure = min(sure, echo_gate)
        voiced = self._judge(ulaw_frame, level, gate, sure)
        if not self._in_speech:
            self._follow_ambient(max(level, floor), voiced)
        return voiced

    def _judge(self, ulaw_frame: bytes, level: float, gate: float, sure: float) -> bool:
        """Under the gate: silence. Over `sure`: webrtcvad's call. Between: the model's."""
        model = self.model
        if model is not None:
            model.push(ulaw_frame)  # every frame: its window holds the line as it was, never a splice
        if level < gate:
            return False
        if level >= sure or model is None:
            return self._vad.is_speech(codec.ulaw_to_pcm16(ulaw_frame), codec.SAMPLE_RATE)
        self.model_frames += 1
        return model.probability() >= self.config.model_threshold

    def _follow_ambient(self, level_db: float, voiced: bool) -> None:
        """The line's ambient level between turns: the mean in dB of the frames not taken for speech, ~1 s to
        follow it, and from the call's first such frame the mean so far (a line that starts with a TV on is not a
        quiet line being talked over). Each frame counts an onset window late, and not at all if that window
        began a turn: a caller's first syllables must not raise the gate over their next ones."""
        pending = self._ambient_pending
        if len(pending) == pending.maxlen and pending[0] is not None:
            self._ambient_frames += 1
            weight = max(0.02, 1 / self._ambient_frames)
            self._ambient_db += weight * (pending[0] - self._ambient_db)
        pending.append(None if voiced else level_db)

    def feed(self, ulaw_frame: bytes) -> tuple[TurnEvent, ...]:
        """Process one frame (exactly 160 bytes, else ValueError); returns the events it caused."""
        if len(ulaw_frame) != codec.FRAME_BYTES:
            raise ValueError(f"expected a {codec.FRAME_BYTES}-byte μ-law frame, got {len(ulaw_frame)}")
        voiced = self.is_voiced(ulaw_frame)
        frame_start = self._now_ms
        self._now_ms += self._frame_ms
        level = self._level
        if level >= self.floor.level + self.config.speech_snr_db and level >= self.config.min_level_dbfs:
            self._last_speech_end_ms = self._now_ms
        sustained = voiced and self._previous_voiced
        self._previous_voiced = voiced
        if not self._in_speech:
            self._recent.append(ulaw_frame)
            if len(self._window) == self._window.maxlen and self._window[0]:
                self._voiced_in_window -= 1
            self._window.append(voiced)
            self._voiced_in_window += voiced
            if self._voiced_in_window < self.config.start_voiced_frames:
                return _NO_EVENTS
            return self._start()
        self._audio += ulaw_frame
        if sustained:
            self._last_voiced_end_ms = self._now_ms
        events: tuple[TurnEvent, ...] = _NO_EVENTS
        speech_ms = self._last_voiced_end_ms - self._started_ms
        if self.agent_speaking and not self._barge_in_raised and speech_ms >= self.config.barge_in_min_ms:
            self._barge_in_raised = True
            events = (BargeInCandidate(at_ms=self._now_ms, speech_ms=speech_ms),)
        silent_for = self._now_ms - self._last_voiced_end_ms
        too_long = frame_start - self._started_ms >= self.config.max_utterance_ms
        if silent_for >= self.config.silence_ms or too_long:
            events = (*events, self._end(speech_ms))
        return events

    def _start(self) -> tuple[TurnEvent, ...]:
        window = list(self._window)
        voiced_frames = len(window) - window.index(True)  # from the first voiced frame of the window to now
        self._in_speech = True
        self._barge_in_raised = False
        self._started_ms = self._now_ms - voiced_frames * self._frame_ms
        self._last_voiced_end_ms = self._now_ms
        self._audio = bytearray(b"".join(list(self._recent)[-(voiced_frames + self._pre_roll) :]))
        self._clear_window()
        self._ambient_pending.clear()  # the onset's frames were the caller, not the line
        return (SpeechStarted(at_ms=self._started_ms),)

    def _clear_window(self) -> None:
        self._recent.clear()
        self._window.clear()
        self._voiced_in_window = 0

    def _end(self, speech_ms: int) -> SpeechEnded | SpeechDiscarded:
        self._in_speech = False
        audio, self._audio = bytes(self._audio), bytearray()
        if speech_ms < self.config.min_speech_ms:
            return SpeechDiscarded(started_ms=self._started_ms, speech_ms=speech_ms)
        return SpeechEnded(
            started_ms=self._started_ms,
            ended_ms=self._last_voiced_end_ms,
            detected_ms=self._now_ms,
            speech_ms=speech_ms,
            audio=audio,
            speech_end_ms=self._speech_end_ms(),
        )

    def _speech_end_ms(self) -> int:
        """The end of the utterance's last frame above the noise floor by `speech_snr_db` (no later than the last
        voiced frame); the last voiced frame when none was (a caller hardly above the line's noise)."""
        loud = self._last_speech_end_ms
        return min(loud, self._last_voiced_end_ms) if loud > self._started_ms else self._last_voiced_end_ms

    def reset(self) -> None:
        """Forget a speech in progress (e.g. after the agent hangs up or a DTMF menu takes over)."""
        self._in_speech = False
        self._clear_window()
        self._audio = bytearray()


# ---- Words: what the transcript says about the turn -------------------------------------------


class Utterance(StrEnum):
    TURN = "turn"  # the caller said something to answer
    INTERRUPTION = "interruption"  # said over the agent, and meant: stop and listen
    BACKCHANNEL = "backchannel"  # "mhm", "yeah" over the agent: keep talking
    NOISE = "noise"  # no words, or only fillers


# The word lists are per language (voice/languages/); these names stay for English.
BACKCHANNELS = ENGLISH.backchannels
FILLERS = ENGLISH.fillers
STOP_WORDS = ENGLISH.stop_words
_WORD = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*")  # letters of any language: "sí", "más", "uh-huh"


def words_of(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def classify_utterance(
    text: str, *, agent_speaking: bool, min_interruption_words: int = 2, language: Language = ENGLISH
) -> Utterance:
    """Decide what a transcribed utterance is, given whether the agent was talking over it, by the word lists
    of the agent's `language` ("vale" and "ajá" are Spanish backchannels, "espere" a stop word).

    Over the agent, it takes `min_interruption_words` words that are not all backchannels — or one stop
    word ("stop", "wait", "no") — to interrupt. With the agent silent, any word that is not a filler
    is a turn: "yes" answers "Is this Maria?".
    """
    words = words_of(text)
    if not words or all(word in language.fillers for word in words):
        return Utterance.NOISE
    if not agent_speaking:
        return Utterance.TURN
    if any(word in language.stop_words for word in words):
        return Utterance.INTERRUPTION
    if len(words) < min_interruption_words or all(word in language.backchannels for word in words):
        return Utterance.BACKCHANNEL
    return Utterance.INTERRUPTION
