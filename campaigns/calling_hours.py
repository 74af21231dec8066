"""Callee-local calling hours: is an instant inside a campaign's window, and when is the next one?

Pure functions over aware datetimes, DST-correct: every comparison is made on instants (UTC), and a
window's edges are the instants at which the callee's wall clock shows them that day. A contact whose
number spans several zones is callable only when it is callable in *all* of them (the most
restrictive reading). The hard legal bounds 08:00–21:00 apply whatever the campaign says.
"""

import datetime
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = datetime.UTC
LEGAL_START = datetime.time(8, 0)
LEGAL_END = datetime.time(21, 0)
SEARCH_DAYS = 14  # a week of allowed days always repeats within this horizon


@dataclass(frozen=True)
class CallingWindow:
    start: datetime.time
    end: datetime.time
    iso_weekdays: frozenset[int]

    @classmethod
    def clamped(cls, start: datetime.time, end: datetime.time, iso_weekdays: Sequence[int]) -> "CallingWindow":
        """The campaign's window narrowed to the legal 08:00–21:00."""
        return cls(max(start, LEGAL_START), min(end, LEGAL_END), frozenset(iso_weekdays))


@functools.cache
def zone(key: str) -> ZoneInfo:
    """ZoneInfo objects kept for the process: zoneinfo itself caches only a few strongly."""
    return ZoneInfo(key)


def is_known_zone(key: str) -> bool:
    try:
        zone(key)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _edge_instant(day: datetime.date, at: datetime.time, tz: ZoneInfo, *, opening: bool) -> datetime.datetime:
    """The instant the wall clock in `tz` shows `at` on `day`, taken on the restrictive side.

    At a DST change a wall time may not exist (spring forward) or occur twice (fall back); its two
    readings (fold 0 and 1) are then different instants. A window opens at the later of them and
    closes at the earlier, so no call ever falls outside the hours the callee's clock shows.
    """
    first = datetime.datetime.combine(day, at, tzinfo=tz).astimezone(UTC)
    second = datetime.datetime.combine(day, at, tzinfo=tz).replace(fold=1).astimezone(UTC)
    return max(first, second) if opening else min(first, second)


def _window_on(day: datetime.date, window: CallingWindow, tz: ZoneInfo) -> tuple[datetime.datetime, datetime.datetime]:
    return _edge_instant(day, window.start, tz, opening=True), _edge_instant(day, window.end, tz, opening=False)


def is_open_in_zone(instant: datetime.datetime, window: CallingWindow, tz: ZoneInfo) -> bool:
    local_day = instant.astimezone(tz).date()
    if local_day.isoweekday() not in window.iso_weekdays:
        return False
    opens, closes = _window_on(local_day, window, tz)
    return opens <= instant < closes


def next_open_in_zone(instant: datetime.datetime, window: CallingWindow, tz: ZoneInfo) -> datetime.datetime | None:
    """`instant` if the window is open then, else the next instant it opens; None if never (no weekdays)."""
    local_day = instant.astimezone(tz).date()
    for offset in range(SEARCH_DAYS + 1):
        day = local_day + datetime.timedelta(days=offset)
        if day.isoweekday() not in window.iso_weekdays:
            continue
        opens, closes = _window_on(day, window, tz)
        if instant < closes:
            return max(opens, instant)
    return None


def is_open(instant: datetime.datetime, window: CallingWindow, zones: Sequence[ZoneInfo]) -> bool:
    return bool(zones) and all(is_open_in_zone(instant, window, tz) for tz in zones)


def next_open(instant: datetime.datetime, window: CallingWindow, zones: Sequence[ZoneInfo]) -> datetime.datetime | None:
    """The first instant at or after `instant` when the window is open in every zone; None if none in two weeks.

    Each round moves to the latest of the zones' next openings; when all agree on one instant it is
    open everywhere. Windows of zones too far apart never overlap, and the search gives up.
    """
    if not zones:
        return None
    horizon = instant + datetime.timedelta(days=SEARCH_DAYS)
    candidate = instant
    while candidate <= horizon:
        openings = [next_open_in_zone(candidate, window, tz) for tz in zones]
        if any(opening is None for opening in openings):
            return None
        latest = max(openings)
        if is_open(latest, window, zones):
            return latest
        # Some zone is closed at `latest`: step past its closing and try again from there.
        candidate = max(latest, candidate + datetime.timedelta(minutes=1))
    return None


def callback_instant(
    requested: datetime.datetime, window: CallingWindow, zones: Sequence[ZoneInfo]
) -> datetime.datetime | None:
    """When to dial a callback the callee asked for at `requested`: then, if the window is open; else the same
    wall-clock time (in the callee's first zone) on the next day it is open — "tomorrow at five" on a Saturday
    of a weekdays-only campaign is Monday at five; else the window's next opening. None if it never opens."""
    if not zones or is_open(requested, window, zones):
        return requested if zones else None
    local = requested.astimezone(zones[0])
    for offset in range(1, SEARCH_DAYS + 1):
        day = local.date() + datetime.timedelta(days=offset)
        same_time = datetime.datetime.combine(day, local.time(), tzinfo=zones[0])
        if is_open(same_time, window, zones):
            return same_time.astimezone(UTC)
    return next_open(requested, window, zones)
