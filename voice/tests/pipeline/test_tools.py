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


SCHEMA = {
    "type": "object",
    "properties": {
        "will_pay": {"type": "boolean"},
        "amount": {"type": "number", "minimum": 0},
        "pay_by": {"type": "string", "format": "date"},
        "method": {"type": "string", "enum": ["card", "transfer"]},
    },
}


@pytest.mark.parametrize(
    ("field", "value", "typed"),
    [("will_pay", "yes", True), ("will_pay", False, False), ("amount", "120.50", 120.5), ("amount", 7, 7),
     ("pay_by", "2026-12-14", "2026-12-14"), ("method", "Card", "card")],
)  # fmt: skip
def test_recorded_outcomes_are_typed_by_the_agents_schema(field, value, typed):
    call = ToolCall("1", "record_outcome", {"field": field, "value": value})
    arguments, error = vet(call, {"record_outcome"}, outcome_fields=tuple(SCHEMA["properties"]), outcome_schema=SCHEMA)
    assert error == ""
    assert arguments == {"field": field, "value": typed}
    assert type(arguments["value"]) is type(typed)


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [("amount", "a lot", "amount must be a number"), ("amount", "-5", "less than the minimum of 0"),
     ("pay_by", "next Friday", "must be a string (date)"), ("method", "cheque", "must be one of 'card', 'transfer'"),
     ("will_pay", "perhaps", "must be a boolean"), ("colour", "red", "unknown field 'colour'")],
)  # fmt: skip
def test_a_recorded_outcome_that_breaks_the_schema_goes_back_to_the_model(field, value, words):
    call = ToolCall("1", "record_outcome", {"field": field, "value": value})
    arguments, error = vet(call, {"record_outcome"}, outcome_schema=SCHEMA)
    assert arguments == {}
    assert words in error
