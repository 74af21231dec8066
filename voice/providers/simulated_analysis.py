"""The offline analysis model: deterministic, and always valid against the schema it is given.

It reads the transcript the way a person skimming it would — keywords for the sentiment and the disposition
("stop calling", "wrong number", "call me back", "not interested"), the conversation's own ending — and fills
every field of the agent's schema by its type: the enum option the callee said, a boolean from the callee's
yes or no, a number the conversation named within the field's bounds; an optional field nothing settled is
null (the reply's contract), a required one gets a plain value of its type (an enum's first option, the
minimum, the call's date). So `make run` shows real summaries, dispositions and typed outcomes with no key.
"""

import datetime
import json
import re
import zoneinfo
from collections.abc import Mapping, Sequence
from typing import Any

from voice.providers.analysis import AnalysisReply, AnalysisRequest, CallAnalyzer, Disposition

NEGATIVE = ("stop calling", "not interested", "don't call", "do not call", "remove", "angry", "wrong number", "no,")
POSITIVE = ("yes", "sure", "great", "thank", "perfect", "sounds good", "will pay", "i'll pay", "okay", "ok")
CALLBACK = ("call me back", "call back", "later", "tomorrow", "another time", "busy right now")
_NUMBER = re.compile(r"\b\d+(?:\.\d+)?\b")


def _contact_text(request: AnalysisRequest) -> str:
    return " ".join(line.text for line in request.transcript if line.role == "contact").lower()


def _pick(dispositions: Sequence[Disposition], *hints: str) -> str:
    """The first disposition whose code or label holds one of `hints` (in the hints' order)."""
    for hint in hints:
        for item in dispositions:
            if hint in item.code.lower() or hint in item.label.lower():
                return item.code
    return ""


def _disposition(request: AnalysisRequest, said: str) -> str:
    codes = request.dispositions
    outcome = request.call_outcome
    if outcome == "opted_out" or any(word in said for word in ("stop calling", "don't call", "do not call")):
        chosen = _pick(codes, "do_not_call", "opt", "not_interested")
    elif "wrong number" in said:
        chosen = _pick(codes, "wrong")
    elif outcome == "callback_requested" or any(word in said for word in CALLBACK):
        chosen = _pick(codes, "callback", "call back")
    elif "not interested" in said:
        chosen = _pick(codes, "not_interested", "declin")
    elif outcome == "transferred":
        chosen = _pick(codes, "transfer")
    elif not said:
        chosen = _pick(codes, "voicemail", "no_conversation", "no answer")
    else:
        chosen = _pick(codes, "reached", "completed", "interested", "success")
    return chosen or (codes[0].code if codes else "")


def _sentiment(said: str) -> str:
    if any(word in said for word in NEGATIVE):
        return "negative"
    if any(word in said for word in POSITIVE):
        return "positive"
    return "neutral"


def _ended(request: AnalysisRequest) -> datetime.datetime:
    try:
        moment = datetime.datetime.fromisoformat(request.ended_at)
    except ValueError:
        moment = datetime.datetime(2026, 1, 1, 12, tzinfo=datetime.UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def _callback_at(request: AnalysisRequest) -> str:
    """The next day at 10:00 in the callee's zone: what "call me tomorrow morning" means."""
    try:
        zone = zoneinfo.ZoneInfo(request.time_zone) if request.time_zone else datetime.UTC
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = datetime.UTC
    local = _ended(request).astimezone(zone)
    return datetime.datetime.combine(
        local.date() + datetime.timedelta(days=1), datetime.time(10), tzinfo=zone
    ).isoformat()


def _types(schema: Mapping[str, Any]) -> list[str]:
    declared = schema.get("type")
    return [declared] if isinstance(declared, str) else list(declared or [])


def _nullable(schema: Mapping[str, Any]) -> bool:
    """Whether the (strict) schema lets the field be null: an optional field of the agent's schema."""
    if "null" in _types(schema) or None in (schema.get("enum") or []):
        return True
    return any(option.get("type") == "null" for option in schema.get("anyOf") or [])


def _value(
    schema: Mapping[str, Any], name: str, said: str, request: AnalysisRequest, sentiment: str, optional: bool = False
) -> object:
    """A value valid for `schema` (field `name`), chosen from what the call said. An optional field the call did
    not settle is null, as the instructions ask of a real model ("never guess"); a required one gets a value of
    its type."""
    optional = optional or _nullable(schema)
    if "anyOf" in schema:
        options = [option for option in schema["anyOf"] if option.get("type") != "null"]
        if not options:
            return None
        return _value(options[0], name, said, request, sentiment, optional)
    enum = [option for option in schema.get("enum") or [] if option is not None]
    if enum:
        spoken = [option for option in enum if isinstance(option, str) and option.lower().replace("_", " ") in said]
        heard = spoken[0] if spoken else None
        return heard if heard is not None or optional else enum[0]
    kinds = [kind for kind in _types(schema) if kind != "null"] or ["string"]
    kind = kinds[0]
    if kind == "boolean":
        if optional and sentiment == "neutral":
            return None
        return sentiment == "positive"
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
        high = schema.get("maximum", schema.get("exclusiveMaximum"))
        # The figure the conversation named (the agent often states it, the callee agrees).
        whole = " ".join(line.text for line in request.transcript)
        for match in _NUMBER.findall(whole):
            number = float(match)
            if number >= low and (high is None or number <= high) and (kind == "number" or number.is_integer()):
                return int(number) if kind == "integer" else number
        if optional:
            return None
        value = low + (1 if "exclusiveMinimum" in schema else 0)
        return int(value) if kind == "integer" else float(value)
    if kind == "array":
        return []
    if kind == "object":
        return _fields(schema, said, request, sentiment)
    if optional:
        return None
    fmt = schema.get("format")
    if fmt == "date":
        return _ended(request).date().isoformat()
    if fmt == "date-time":
        return _ended(request).isoformat()
    if fmt == "email":
        return "unknown@example.com"
    text = f"{name.replace('_', ' ')} not stated"
    return text.ljust(int(schema.get("minLength", 0)), ".")[: int(schema.get("maxLength", 200))]


def _fields(schema: Mapping[str, Any], said: str, request: AnalysisRequest, sentiment: str) -> dict[str, object]:
    properties = schema.get("properties") or {}
    return {name: _value(sub, name, said, request, sentiment) for name, sub in properties.items()}


def _summary(request: AnalysisRequest, disposition: str, sentiment: str) -> str:
    callee = [line.text for line in request.transcript if line.role == "contact"]
    label = next((item.label for item in request.dispositions if item.code == disposition), disposition)
    if not callee:
        return f"The agent spoke but the callee said nothing. Disposition: {label}."
    quoted = "; ".join(f"“{text}”" for text in callee[:2])
    return f"The callee said {quoted}. The tone was {sentiment}. Disposition: {label}."[:600]


class SimulatedCallAnalyzer(CallAnalyzer):
    name = "simulated"

    def analyze(self, request: AnalysisRequest) -> AnalysisReply:
        said = _contact_text(request)
        sentiment = _sentiment(said)
        disposition = _disposition(request, said)
        is_callback = disposition and any(word in disposition for word in ("callback", "call_back"))
        reply: dict[str, object] = {
            "summary": _summary(request, disposition, sentiment),
            "sentiment": sentiment,
            "disposition": disposition,
            "callback_at": _callback_at(request) if is_callback else None,
        }
        fields_schema = (request.schema.get("properties") or {}).get("fields")
        if isinstance(fields_schema, Mapping):
            reply["fields"] = _fields(fields_schema, said, request, sentiment)
        text = json.dumps(reply)
        return AnalysisReply(
            text=text, model="simulated", prompt_tokens=len(said) // 4 + 50, completion_tokens=len(text) // 4
        )
