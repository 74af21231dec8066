import json

import pytest

from voice.providers.speech import ChatMessage, ToolCall, classify_status


def test_tool_arguments_that_parse_are_kept():
    call = ToolCall.parse("c1", "schedule_callback", ' {"when": "tomorrow"} ')
    assert call.ok
    assert call.arguments == {"when": "tomorrow"}


def test_empty_tool_arguments_mean_no_arguments():
    assert ToolCall.parse("c1", "end_call", "").arguments == {}


@pytest.mark.parametrize(("raw", "reason"), [('{"when": ', "not valid JSON"), ('"tomorrow"', "JSON object")])
def test_bad_tool_arguments_give_an_error_result_for_the_model(raw, reason):
    call = ToolCall.parse("c1", "schedule_callback", raw)
    assert not call.ok
    assert reason in call.error
    result = call.error_result()
    assert result == ChatMessage("tool", json.dumps({"error": call.error}), tool_call_id="c1")


@pytest.mark.parametrize(
    ("status", "permanent"), [(None, False), (408, False), (429, False), (500, False), (502, False), (400, True),
                              (401, True), (403, True), (404, True), (422, True)]
)  # fmt: skip
def test_the_status_policy_says_what_may_pass(status, permanent):
    assert classify_status("p", status, "x").permanent is permanent
