"""The tools a model may call on a call: their schemas, argument checks, and callback times.

The session offers only the tools the agent enables. Arguments are checked here, before any side effect,
and a bad one comes back to the model as an error it can correct — never an exception.
"""

import datetime
from collections.abc import Iterable, Mapping
from typing import Any

from voice.pipeline.callback_times import callback_time
from voice.pipeline.outcome_schema import coerce_field
from voice.providers.speech import ToolCall, ToolSchema

__all__ = ["callback_time", "check_arguments", "offered_tools", "vet"]

END_CALL = "end_call"
OPT_OUT = "opt_out"
TRANSFER = "transfer_to_human"
SCHEDULE_CALLBACK = "schedule_callback"
RECORD_OUTCOME = "record_outcome"
# After these the agent says goodbye and the call ends (or is handed over).
TERMINAL_TOOLS = frozenset({END_CALL, OPT_OUT, TRANSFER})

SCHEMAS: Mapping[str, ToolSchema] = {
    END_CALL: ToolSchema(
        END_CALL,
        "End the call politely once the conversation is over. Say goodbye in the same reply.",
        {"type": "object", "properties": {"reason": {"type": "string"}}},
    ),
    OPT_OUT: ToolSchema(
        OPT_OUT,
        "The callee asked not to be called again: remove their number from all calling and end the call.",
        {"type": "object", "properties": {"reason": {"type": "string"}}},
    ),
    TRANSFER: ToolSchema(
        TRANSFER,
        "Transfer the callee to a human colleague when they ask for a person or you cannot help.",
        {"type": "object", "properties": {"reason": {"type": "string"}}},
    ),
    SCHEDULE_CALLBACK: ToolSchema(
        SCHEDULE_CALLBACK,
        "Schedule a call back at a time the callee asked for.",
        {
            "type": "object",
            "properties": {
                "when": {
                    "type": "string",
                    "description": "The callee's own words for the time, in their language ('tomorrow at five', "
                    "'mañana por la tarde'), or ISO 8601. Read in the callee's time zone.",
                }
            },
            "required": ["when"],
        },
    ),
    RECORD_OUTCOME: ToolSchema(
        RECORD_OUTCOME,
        "Record a fact learned on the call (e.g. field 'payment_promised', value 'yes').",
        {
            "type": "object",
            "properties": {
                "field": {"type": "string"},
                "value": {"type": ["string", "number", "boolean"], "description": "As the field's type says."},
            },
            "required": ["field", "value"],
        },
    ),
}


def offered_tools(enabled: Iterable[str]) -> tuple[ToolSchema, ...]:
    return tuple(SCHEMAS[name] for name in SCHEMAS if name in set(enabled))


def check_arguments(
    name: str,
    arguments: Mapping[str, Any],
    *,
    outcome_fields: tuple[str, ...] = (),
    outcome_schema: Mapping[str, Any] | None = None,
) -> str:
    """An error message for the model if the arguments are unusable, else "".

    A `record_outcome` value must fit its field in the agent's outcome schema (typed: "42" is read as a
    number for a number field, "yes" as true for a boolean; `vet` hands on the typed value).
    """
    if name == SCHEDULE_CALLBACK and not isinstance(arguments.get("when"), str):
        return "schedule_callback needs 'when' as a string"
    if name == RECORD_OUTCOME:
        field, value = arguments.get("field"), arguments.get("value")
        if not isinstance(field, str) or not field.strip():
            return "record_outcome needs a non-empty 'field' string"
        if value is None or isinstance(value, dict | list):
            return "record_outcome needs 'value' as a string, number or boolean"
        if outcome_fields and field not in outcome_fields:
            return f"unknown field {field!r}; allowed: {', '.join(outcome_fields)}"
        if outcome_schema:
            return coerce_field(outcome_schema, field, value)[1]
    return ""


def vet(
    call: ToolCall,
    enabled: Iterable[str],
    *,
    outcome_fields: tuple[str, ...] = (),
    outcome_schema: Mapping[str, Any] | None = None,
    time_zone: str = "",
    language: str = "en",
) -> tuple[Mapping[str, Any], str]:
    """(arguments to act on, "") for a usable call, or ({}, an error for the model). A callback's time is
    resolved here, so the host gets `at` (ISO 8601) beside the model's `when`."""
    if not call.ok:
        return {}, call.error or "tool call refused"
    if call.name not in set(enabled) or call.name not in SCHEMAS:
        return {}, f"unknown tool {call.name!r}"
    error = check_arguments(call.name, call.arguments, outcome_fields=outcome_fields, outcome_schema=outcome_schema)
    if error:
        return {}, error
    if call.name == RECORD_OUTCOME and outcome_schema:
        field = call.arguments["field"]
        return {"field": field, "value": coerce_field(outcome_schema, field, call.arguments["value"])[0]}, ""
    if call.name != SCHEDULE_CALLBACK:
        return call.arguments, ""
    now = datetime.datetime.now(datetime.UTC)
    try:
        at = callback_time(call.arguments["when"], now=now, time_zone=time_zone, language=language)
    except ValueError as problem:
        return {}, str(problem)
    return {"when": call.arguments["when"], "at": at.isoformat()}, ""
