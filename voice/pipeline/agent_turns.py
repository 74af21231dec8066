"""The agent's turns as the callee hears them: chunks queued, marks echoed, and what that says was heard."""

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field


@dataclass
class Chunk:
    """One TTS chunk (a sentence, or the first clause) and the mark that follows its audio."""

    mark: str
    text: str
    frames: int
    closed: bool = False  # all its audio queued, and its mark after it


@dataclass
class AgentTurn:
    """The agent's turn in progress: what was queued, what came back heard, and its timings (loop time)."""

    key: int  # names its marks ("<key>:<chunk>", "<key>:start")
    reference: float  # loop time latencies are measured from
    started_wall: float
    index: int | None = None  # transcript position, taken when its first audio is queued
    message_at: int | None = None  # its assistant message in the history, once added
    chunks: list[Chunk] = field(default_factory=list)
    heard: set[str] = field(default_factory=set)
    stamps: dict[str, float] = field(default_factory=dict)
    generating: bool = True
    cleared: bool = False
    interrupted: bool = False
    done: asyncio.Event = field(default_factory=asyncio.Event)
    is_opener: bool = False
    unprompted: bool = False  # said without the callee asking (a reprompt): no reply latency to count

    def complete(self) -> bool:
        """Nothing more to say, and every closed chunk's mark came back."""
        return not self.generating and all(chunk.mark in self.heard or not chunk.closed for chunk in self.chunks)

    def stamp(self, stage: str, at: float) -> None:
        self.stamps.setdefault(stage, at)

    def heard_text(self, sent_frames: Callable[[str], int], *, lead_frames: int) -> str:
        """The chunks whose marks came back; of the first one that did not, the share of its frames sent
        beyond the carrier's lead — never all of it, since its mark never came back."""
        words: list[str] = []
        for chunk in self.chunks:
            if chunk.mark in self.heard:
                words.append(chunk.text)
                continue
            sent = min(chunk.frames - 1, sent_frames(chunk.mark) - lead_frames)
            if sent > 0 and chunk.frames:
                parts = chunk.text.split()
                share = len(parts) * sent // chunk.frames
                if share:
                    words.append(" ".join(parts[:share]) + ("—" if share < len(parts) else ""))
            break
        return " ".join(words)


class AgentTurns:
    """The call's agent turns by key, and what the marks named after them say: first audio sent, heard."""

    def __init__(self) -> None:
        self._turns: dict[int, AgentTurn] = {}
        self._keys = 0

    def new(self, reference: float, *, is_opener: bool = False) -> AgentTurn:
        self._keys += 1
        turn = self._turns[self._keys] = AgentTurn(self._keys, reference, time.time(), is_opener=is_opener)
        return turn

    def mark_sent(self, name: str, now: float) -> None:
        """The playout sent mark `name` to the carrier."""
        turn, part = self._find(name)
        if turn is not None and part == "start":
            turn.stamp("first_audio_sent", now)

    def mark_heard(self, name: str, now: float) -> AgentTurn | None:
        """The carrier echoed mark `name`: the turn it completed, if it did."""
        turn, part = self._find(name)
        if turn is None or turn.cleared:
            return None  # echoed because of a `clear`: not heard
        if part == "start":
            turn.stamp("first_audio_heard", now)
            return None
        turn.heard.add(name)
        return turn if turn.complete() else None

    def _find(self, name: str) -> tuple[AgentTurn | None, str]:
        key, _, part = name.partition(":")
        return (self._turns.get(int(key)) if key.isdigit() else None), part


def latency_summary(latencies: Mapping[str, Sequence[int]]) -> dict[str, dict[str, int]]:
    """Per stage: how many turns, p50, p95 and max, in ms."""
    stats: dict[str, dict[str, int]] = {}
    for stage, values in latencies.items():
        if values:
            ordered = sorted(values)
            stats[stage] = {
                "n": len(ordered),
                "p50": ordered[len(ordered) // 2],
                "p95": ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))],
                "max": ordered[-1],
            }
    return stats
