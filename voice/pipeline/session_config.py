"""The timings of a conversation session (`ConversationSession(config=...)`)."""

from dataclasses import dataclass, field

from voice.pipeline.turn_taking import TurnTakingConfig


@dataclass(frozen=True)
class SessionConfig:
    """Timings of one session (seconds are real time; the simulated carrier's time scale applies to pacing)."""

    turn_taking: TurnTakingConfig = field(default_factory=TurnTakingConfig)
    hold_after_s: float = 0.8  # nothing said this long after the callee's turn: the hold phrase plays
    stt_timeout_s: float = 4.0
    llm_first_token_s: float = 3.0
    llm_idle_s: float = 3.0
    tts_first_byte_s: float = 2.0
    tts_idle_s: float = 2.0
    mark_timeout_s: float = 10.0  # how long the last words may take to be heard before hanging up anyway
    max_tool_rounds: int = 3
    stop_grace_s: float = 2.0  # at stream end: for the last utterance's STT, then again for the last writes
    lead_frames: int = 3
