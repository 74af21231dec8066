"""Callee-local calling hours over a table of zones and instants, DST changes included."""

import datetime

import pytest

from campaigns.calling_hours import CallingWindow, _edge_instant, is_open, next_open, zone

UTC = datetime.UTC
EVERY_DAY = range(1, 8)
NINE_TO_EIGHT = CallingWindow.clamped(datetime.time(9), datetime.time(20), EVERY_DAY)


def utc(*args: int) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("zone_key", "instant", "open_now", "next_opening"),
    [
        # US, Monday 2026-11-23 14:30 UTC: New York is at 09:30, the others are earlier.
        ("America/New_York", utc(2026, 11, 23, 14, 30), True, utc(2026, 11, 23, 14, 30)),
        ("America/Chicago", utc(2026, 11, 23, 14, 30), False, utc(2026, 11, 23, 15)),
        ("America/Denver", utc(2026, 11, 23, 14, 30), False, utc(2026, 11, 23, 16)),
        ("America/Los_Angeles", utc(2026, 11, 23, 14, 30), False, utc(2026, 11, 23, 17)),
        ("Pacific/Honolulu", utc(2026, 11, 23, 14, 30), False, utc(2026, 11, 23, 19)),
        # Europe: 19:30 UTC is 19:30 in London (open) and 20:30 in Berlin (closed until 09:00 tomorrow).
        ("Europe/London", utc(2026, 11, 23, 19, 30), True, utc(2026, 11, 23, 19, 30)),
        ("Europe/Berlin", utc(2026, 11, 23, 19, 30), False, utc(2026, 11, 24, 8)),
        # India, +05:30: 09:00 IST is 03:30 UTC; the window closes at 20:00 sharp.
        ("Asia/Kolkata", utc(2026, 11, 23, 3, 29), False, utc(2026, 11, 23, 3, 30)),
        ("Asia/Kolkata", utc(2026, 11, 23, 3, 30), True, utc(2026, 11, 23, 3, 30)),
        ("Asia/Kolkata", utc(2026, 11, 23, 14, 30), False, utc(2026, 11, 24, 3, 30)),
        # Nepal, +05:45.
        ("Asia/Kathmandu", utc(2026, 11, 23, 3, 14), False, utc(2026, 11, 23, 3, 15)),
        ("Asia/Kathmandu", utc(2026, 11, 23, 14, 14), True, utc(2026, 11, 23, 14, 14)),
        # Lord Howe: +10:30 in winter, +11 in summer (a 30-minute DST) from 2026-10-04 02:00 local.
        ("Australia/Lord_Howe", utc(2026, 10, 1, 22, 29), False, utc(2026, 10, 1, 22, 30)),
        ("Australia/Lord_Howe", utc(2026, 10, 4, 21, 59), False, utc(2026, 10, 4, 22)),
        ("Australia/Lord_Howe", utc(2026, 10, 4, 22, 0), True, utc(2026, 10, 4, 22)),
        # New York springs forward on 2026-03-08 (02:00 → 03:00): 09:00 that day is 13:00 UTC, not 14:00.
        ("America/New_York", utc(2026, 3, 8, 7, 30), False, utc(2026, 3, 8, 13)),  # 03:30 EDT, just past the gap
        ("America/New_York", utc(2026, 3, 7, 13, 30), False, utc(2026, 3, 7, 14)),  # the day before: EST
        # ... and falls back on 2026-11-01 (01:00–02:00 happens twice): both 01:30s are closed.
        ("America/New_York", utc(2026, 11, 1, 5, 30), False, utc(2026, 11, 1, 14)),  # first 01:30 (EDT)
        ("America/New_York", utc(2026, 11, 1, 6, 30), False, utc(2026, 11, 1, 14)),  # second 01:30 (EST)
        ("America/New_York", utc(2026, 10, 31, 23, 59), True, utc(2026, 10, 31, 23, 59)),  # 19:59 EDT the eve
    ],
)
def test_the_window_follows_the_callee_s_wall_clock(zone_key, instant, open_now, next_opening):
    zones = [zone(zone_key)]
    assert is_open(instant, NINE_TO_EIGHT, zones) is open_now
    assert next_open(instant, NINE_TO_EIGHT, zones) == next_opening


def test_a_number_spanning_several_zones_is_called_only_when_open_in_all():
    perth_and_sydney = [zone("Australia/Perth"), zone("Australia/Sydney")]
    tuesday_0930_sydney = utc(2026, 11, 23, 22, 30)  # 06:30 in Perth
    assert is_open(tuesday_0930_sydney, NINE_TO_EIGHT, [zone("Australia/Sydney")])
    assert not is_open(tuesday_0930_sydney, NINE_TO_EIGHT, perth_and_sydney)
    assert next_open(tuesday_0930_sydney, NINE_TO_EIGHT, perth_and_sydney) == utc(2026, 11, 24, 1)  # 09:00 Perth


def test_zones_whose_windows_never_overlap_have_no_opening():
    one_hour = CallingWindow.clamped(datetime.time(9), datetime.time(10), EVERY_DAY)
    assert next_open(utc(2026, 11, 23), one_hour, [zone("Australia/Perth"), zone("Australia/Sydney")]) is None


def test_days_of_week_are_the_callee_s_days():
    weekdays = CallingWindow.clamped(datetime.time(9), datetime.time(20), [1, 2, 3, 4, 5])
    # Friday 23:30 UTC is already Saturday 08:30 in Tokyo: next opening is Monday 09:00 JST.
    assert next_open(utc(2026, 11, 27, 23, 30), weekdays, [zone("Asia/Tokyo")]) == utc(2026, 11, 30, 0)


def test_the_legal_hours_bound_any_campaign_window():
    wide = CallingWindow.clamped(datetime.time(6), datetime.time(23), EVERY_DAY)
    assert (wide.start, wide.end) == (datetime.time(8), datetime.time(21))


def test_no_weekday_means_never():
    assert (
        next_open(utc(2026, 11, 23), CallingWindow.clamped(datetime.time(9), datetime.time(20), []), [zone("UTC")])
        is None
    )


@pytest.mark.parametrize(
    ("day", "wall", "opening", "expected"),
    [
        # 02:30 does not exist on 2026-03-08 in New York: open at the later reading, close at the earlier.
        (datetime.date(2026, 3, 8), datetime.time(2, 30), True, utc(2026, 3, 8, 7, 30)),
        (datetime.date(2026, 3, 8), datetime.time(2, 30), False, utc(2026, 3, 8, 6, 30)),
        # 01:30 happens twice on 2026-11-01: open at the second, close at the first.
        (datetime.date(2026, 11, 1), datetime.time(1, 30), True, utc(2026, 11, 1, 6, 30)),
        (datetime.date(2026, 11, 1), datetime.time(1, 30), False, utc(2026, 11, 1, 5, 30)),
    ],
)
def test_window_edges_at_a_dst_change_are_taken_on_the_restrictive_side(day, wall, opening, expected):
    assert _edge_instant(day, wall, zone("America/New_York"), opening=opening) == expected
