import datetime

import pytest

from voice.pipeline.tools import callback_time, offered_tools, vet
from voice.providers.speech import ToolCall

NOW = datetime.datetime(2026, 11, 23, 14, 0, tzinfo=datetime.UTC)  # 09:00 in New York


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("2026-11-24T10:30:00-05:00", "2026-11-24T10:30:00-05:00"),
        ("2026-11-24 10:30", "2026-11-24T10:30:00-05:00"),  # naive: the callee's zone
        ("in 2 hours", "2026-11-23T11:00:00-05:00"),
        ("tomorrow afternoon", "2026-11-24T15:00:00-05:00"),
        ("tomorrow at 9:30am", "2026-11-24T09:30:00-05:00"),
        ("today 5pm", "2026-11-23T17:00:00-05:00"),
    ],
)
def test_callback_times_are_read_in_the_callees_zone(when, expected):
    assert callback_time(when, now=NOW, time_zone="America/New_York").isoformat() == expected


@pytest.mark.parametrize("when", ["whenever", "", "2020-01-01T00:00:00Z", "tomorrow at 25:00"])
def test_unreadable_or_past_callback_times_are_errors_for_the_model(when):
    with pytest.raises(ValueError, match=r"."):
        callback_time(when, now=NOW, time_zone="America/New_York")


def test_only_enabled_tools_are_offered_and_others_are_refused():
    assert [tool.name for tool in offered_tools({"end_call", "opt_out"})] == ["end_call", "opt_out"]
    arguments, error = vet(ToolCall.parse("1", "transfer_to_human", "{}"), {"end_call"})
    assert arguments == {}
    assert error == "unknown tool 'transfer_to_human'"


def test_bad_arguments_are_refused_with_a_reason():
    _, error = vet(ToolCall.parse("1", "record_outcome", '{"field": ""}'), {"record_outcome"})
    assert "non-empty 'field'" in error
    _, error = vet(ToolCall.parse("1", "schedule_callback", '{"when": 5}'), {"schedule_callback"})
    assert "'when' as a string" in error
    _, error = vet(ToolCall.parse("1", "end_call", "[1, 2]"), {"end_call"})
    assert "must be a JSON object" in error
