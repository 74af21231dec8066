from voice.pipeline.outcome_schema import drop_optional_nulls, strict_schema, validation_errors

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "properties": {
        "paid": {"type": "boolean"},
        "when": {"type": "string", "format": "date-time"},
        "plan": {"enum": ["a", "b"]},
        "items": {"type": "array", "items": {"type": "object", "properties": {"sku": {"type": "string"}}}},
    },
    "required": ["paid"],
}


def test_strict_form_requires_every_property_and_makes_optional_ones_nullable():
    strict = strict_schema(SCHEMA)
    assert "$schema" not in strict
    assert strict["required"] == ["paid", "items", "plan", "when"]  # required first, then by name
    assert strict["additionalProperties"] is False
    assert strict["properties"]["paid"] == {"type": "boolean"}
    assert strict["properties"]["when"]["type"] == ["string", "null"]
    assert strict["properties"]["plan"] == {"anyOf": [{"enum": ["a", "b"]}, {"type": "null"}]}
    item = strict["properties"]["items"]["items"]
    assert item["additionalProperties"] is False
    assert item["properties"]["sku"]["type"] == ["string", "null"]


def test_a_strict_reply_is_checked_against_the_agents_own_schema_without_its_nulls():
    reply = {"paid": True, "when": None, "plan": "a", "items": [{"sku": None}]}
    assert validation_errors(strict_schema(SCHEMA), reply) == []
    cleaned = drop_optional_nulls(SCHEMA, reply)
    assert cleaned == {"paid": True, "plan": "a", "items": [{}]}
    assert validation_errors(SCHEMA, cleaned) == []


def test_date_times_need_an_offset_and_a_time():
    assert validation_errors(SCHEMA, {"paid": True, "when": "2026-12-08T10:00:00+01:00"}) == []
    assert validation_errors(SCHEMA, {"paid": True, "when": "2026-12-08T10:00:00Z"}) == []
    no_time = {"paid": True, "when": "2026-12-08"}
    assert validation_errors(SCHEMA, no_time) == ["when: '2026-12-08' is not a 'date-time'"]
    assert validation_errors(SCHEMA, {"paid": True, "when": "soon"}) == ["when: 'soon' is not a 'date-time'"]
