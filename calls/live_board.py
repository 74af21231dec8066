"""What the live board shows of each call, and the coalescing that keeps its cost flat.

A supervisor's board receives every event of every live call (status changes, AMD verdicts, turns, tools);
each becomes a patch of the call's row on the board (`board_patch`). The board's consumer keeps one merged
patch per call until its next flush (`BoardCoalescer`), so a busy call sends one update per flush interval
however many events it made, and a watcher that reads slowly holds at most one pending update per call:
never a queue that grows with the events.
"""

from typing import Any

from calls.live_events import MOMENTS

# Fields of a status snapshot (calls.live_events.call_snapshot) that the board keeps.
SNAPSHOT_FIELDS = ("status", "phone", "campaign", "agent", "answered_by", "outcome", *MOMENTS)


def board_patch(event: dict[str, Any]) -> dict[str, Any]:
    """The fields of a call's board row that `event` changes ({} when none)."""
    kind = event.get("kind")
    if kind in ("status", "amd"):
        return {name: event[name] for name in SNAPSHOT_FIELDS if name in event}
    if kind == "turn":
        utterance = {"role": event.get("role"), "text": event.get("text"), "interrupted": event.get("interrupted")}
        patch: dict[str, Any] = {"last_utterance": utterance}
        # A reply's latency (the opener's, index 0, runs from the stream's start: not a turn's latency).
        if event.get("role") == "agent" and event.get("index", 0) > 0 and event.get("latency_ms"):
            patch["latency_ms"] = event["latency_ms"]
        return patch
    if kind == "conversation":
        return {"conversation": event.get("state"), **({"outcome": event["outcome"]} if event.get("outcome") else {})}
    if kind == "tool":
        return {"last_tool": event.get("name")}
    if kind == "provider_error":
        return {"provider_error": f"{event.get('role')}:{event.get('provider')}"}
    return {}


class BoardCoalescer:
    """Patches per call since the last flush, merged: the latest value of each field wins."""

    def __init__(self) -> None:
        self._pending: dict[str, dict[str, Any]] = {}

    def add(self, event: dict[str, Any]) -> None:
        patch = board_patch(event)
        call = event.get("call")
        if patch and call:
            self._pending.setdefault(str(call), {}).update(patch)

    def drain(self) -> dict[str, dict[str, Any]]:
        pending, self._pending = self._pending, {}
        return pending

    def __len__(self) -> int:
        return len(self._pending)
