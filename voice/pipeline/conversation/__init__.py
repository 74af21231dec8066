"""The conversation session: one per call, holding the floor between the callee and the agent.

Flow. `start` loads the call's context from the host and speaks the opener (the agent's first message with
the contact's `{{variables}}`). The `Listener` (listening.py) runs inbound frames through the turn detector
inline and hands each utterance's words back in order; the session decides whether they are a turn and
starts the answer: `ReplyRounds` (replies.py: LLM stream → sentence chunker, tools between rounds) spoken
by the `Speaker` (TTS per chunk) into the `Playout` (paced 20 ms frames, a mark after each chunk and one
after its first frame). The `CallRecorder` (call_record.py) keeps transcript, latencies, failures and
outcome, and reports them to the host.

Barge-in. A `BargeInCandidate` pauses the playout at once (the agent goes quiet within a frame or two).
When the words are known, an interruption clears the carrier's buffer, cancels the reply, and keeps in
the transcript only what was heard: chunks whose mark came back before the clear, plus the share of the
cut chunk that had been sent (minus the lead). A backchannel or a noise resumes the agent where it
paused. The callee's "Hello?" over the opener is a greeting, not an interruption.

Fallback. Each provider is called through its circuit breaker with timeouts. If nothing has been said
`hold_after_s` after the callee's turn ended, the cached "One moment, please." plays; a failed TTS is
replaced by the secondary voice for the rest of the call; when the conversation cannot go on (no LLM,
no voice, no STT twice in a row), the cached goodbye plays and the call is hung up. An answering
machine's greeting ended (at the start or mid-call) gets the voicemail message, then a hang-up.

The session is split by what each part answers for, one module each, all on the same per-call state
(state.py): speaking.py (the agent's turns: started, cut, finished; the hang-ups), and on it hearing.py (what
the listener heard, as its `Floor`) and unanswered.py (an answering machine, a silent callee); session.py
puts them together as the `VoiceSession` (wiring at the start, the inbound messages, every way of ending).
"""

from voice.pipeline.conversation.session import ConversationSession
from voice.pipeline.listening import GREETING_WORDS
from voice.pipeline.session_config import SessionConfig

__all__ = ["GREETING_WORDS", "ConversationSession", "SessionConfig"]
