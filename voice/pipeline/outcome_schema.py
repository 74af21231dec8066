"""An agent's outcome schema (JSON Schema, draft 2020-12): typed values checked, coerced and made strict.

One set of rules serves the conversation's `record_outcome` tool (a value at a time, as the model gives it) and
the post-call analysis (the whole object, as the analysis model returns it):

- `validation_errors(schema, instance)`: what is wrong, in words, formats included (`date`, `date-time`,
  `email`…: jsonschema checks `date-time` only with an extra package, so it is checked here with the standard
  library's ISO 8601 reader).
- `coerce_field(schema, field, value)`: a tool value as the schema types it ("42" → 42 for a number, "yes" →
  True for a boolean); the model's tool arguments are often strings whatever the field's type.
- `strict_schema(schema)`: the form OpenAI's structured outputs accept in strict mode (every property
  required, `additionalProperties: false`, optional ones nullable); `drop_optional_nulls` undoes the
  nullability on the reply, so it is checked against the agent's own schema.
"""

import datetime
import re
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

FORMAT_CHECKER = FormatChecker()
_TRUE = {"yes", "y", "true", "1", "si", "sí", "oui", "ja"}
_FALSE = {"no", "n", "false", "0", "non", "nein"}
_NUMBER = re.compile(r"^[-+]?\d+(?:[.,]\d+)?$")


@FORMAT_CHECKER.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed.tzinfo is not None and "T" in value.upper()


def properties(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    found = schema.get("properties") if isinstance(schema, Mapping) else None
    return found if isinstance(found, Mapping) else {}


def field_order(schema: Mapping[str, Any]) -> list[str]:
    """The schema's property names in a stable order: the required ones as `required` lists them, then the
    others alphabetically. (PostgreSQL's jsonb does not keep an object's key order; it keeps a list's.)"""
    fields = properties(schema)
    required = [name for name in schema.get("required") or [] if name in fields]
    return [*dict.fromkeys(required), *sorted(name for name in fields if name not in required)]


def validation_errors(schema: Mapping[str, Any], instance: object, *, where: str = "") -> list[str]:
    """Each way `instance` breaks `schema`, as "<path>: <message>" (empty when valid)."""
    validator = Draft202012Validator(dict(schema), format_checker=FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(instance), key=lambda error: list(error.absolute_path))
    messages = []
    for error in errors:
        path = ".".join(str(part) for part in error.absolute_path)
        at = ".".join(part for part in (where, path) if part) or "the reply"
        messages.append(f"{at}: {error.message}")
    return messages


def _types(subschema: Mapping[str, Any]) -> list[str]:
    declared = subschema.get("type")
    if isinstance(declared, str):
        return [declared]
    if isinstance(declared, list):
        return [str(kind) for kind in declared]
    return []


def _coerce(subschema: Mapping[str, Any], value: object) -> object:
    if not isinstance(value, str):
        return value
    text = value.strip()
    kinds = _types(subschema)
    if "boolean" in kinds and text.lower() in _TRUE | _FALSE:
        return text.lower() in _TRUE
    if ("integer" in kinds or "number" in kinds) and _NUMBER.match(text):
        number = float(text.replace(",", "."))
        if "integer" in kinds and number.is_integer():
            return int(number)
        if "number" in kinds:
            return number
    if "null" in kinds and text.lower() in {"null", "none", ""}:
        return None
    enum = subschema.get("enum")
    if isinstance(enum, list) and text not in enum:
        by_case = [option for option in enum if isinstance(option, str) and option.lower() == text.lower()]
        if len(by_case) == 1:
            return by_case[0]
    return value


def coerce_field(schema: Mapping[str, Any], field: str, value: object) -> tuple[object, str]:
    """(the value typed as `schema` says field `field` is, "") or (value, why it is refused).

    A schema with no properties accepts any field and value (the agent extracts nothing typed).
    """
    fields = properties(schema)
    if not fields:
        return value, ""
    if field not in fields:
        return value, f"unknown field {field!r}; allowed: {', '.join(fields)}"
    subschema = fields[field] if isinstance(fields[field], Mapping) else {}
    typed = _coerce(subschema, value)
    errors = validation_errors(subschema, typed, where=field)
    if errors:
        expected = _describe(subschema)
        return value, f"{field} must be {expected}: " + "; ".join(errors)
    return typed, ""


def _describe(subschema: Mapping[str, Any]) -> str:
    if isinstance(subschema.get("enum"), list):
        return "one of " + ", ".join(repr(option) for option in subschema["enum"])
    kinds = [kind for kind in _types(subschema) if kind != "null"] or ["a value"]
    fmt = subschema.get("format")
    described = " or ".join(kinds)
    return f"a {described} ({fmt})" if fmt else f"a {described}"


def _nullable(subschema: Mapping[str, Any]) -> dict[str, Any]:
    nullable = dict(subschema)
    kinds = _types(subschema)
    if kinds:
        nullable["type"] = kinds if "null" in kinds else [*kinds, "null"]
        if isinstance(nullable.get("enum"), list) and None not in nullable["enum"]:
            nullable["enum"] = [*nullable["enum"], None]
        return nullable
    return {"anyOf": [dict(subschema), {"type": "null"}]}


def strict_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """`schema` as OpenAI's strict structured outputs take it: objects list every property as required and
    allow no others; a property that was optional becomes nullable (null = not said on the call)."""
    strict = {key: value for key, value in schema.items() if key not in {"$schema", "$id", "default", "examples"}}
    kinds = _types(strict)
    if "object" in kinds or "properties" in strict:
        fields = properties(strict)
        required = set(strict.get("required") or [])
        strict["properties"] = {
            name: strict_schema(fields[name]) if name in required else _nullable(strict_schema(fields[name]))
            for name in field_order(strict)
            if isinstance(fields[name], Mapping)
        }
        strict["required"] = list(strict["properties"])
        strict["additionalProperties"] = False
        strict.setdefault("type", "object")
    if "array" in kinds and isinstance(strict.get("items"), Mapping):
        strict["items"] = strict_schema(strict["items"])
    return strict


def drop_optional_nulls(schema: Mapping[str, Any], instance: object) -> object:
    """The reply to a `strict_schema` with the nulls of fields the original schema made optional removed."""
    if isinstance(instance, list) and isinstance(schema.get("items"), Mapping):
        return [drop_optional_nulls(schema["items"], item) for item in instance]
    if not isinstance(instance, dict):
        return instance
    fields = properties(schema)
    required = set(schema.get("required") or [])
    cleaned = {}
    for name, value in instance.items():
        if value is None and name not in required:
            continue
        sub = fields.get(name)
        cleaned[name] = drop_optional_nulls(sub, value) if isinstance(sub, Mapping) else value
    return cleaned
