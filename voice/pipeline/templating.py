"""`{{variables}}` in an agent's opener and system prompt, filled from a contact's fields.

Deliberately not Django templates and never `eval`: a prompt is operator-written text that may contain
braces, tags or code samples of its own, so the only thing recognised is `{{ name }}` or
`{{ name | fallback }}`, replaced by a plain string. Nothing is executed, no attribute is looked up.

Names are matched exactly first, then case-insensitively with spaces and dashes read as underscores, so
an imported column "Amount Due" answers `{{amount_due}}`. An unknown name renders as its fallback, or as
empty text — and is reported, so the caller can log it or refuse to launch with it.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass

# The name may not contain braces or a pipe, so an unclosed "{{" stays literal text.
_VARIABLE = re.compile(r"( ?)\{\{\s*([^{}|]+?)\s*(?:\|\s*([^{}]*?)\s*)?\}\}")


def _normalise(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


@dataclass(frozen=True)
class Rendered:
    text: str
    missing: tuple[str, ...]  # names with no value and no fallback, in order of first use


def template_variables(
    fields: Mapping[str, object], custom_fields: Mapping[str, object] | None = None
) -> dict[str, str]:
    """Merge a contact's standard fields and custom fields into one lookup; standard fields win a clash.

    Values become strings; None, empty and nested values are left out (so a fallback applies).
    """
    merged: dict[str, str] = {}
    for source in (custom_fields or {}, fields):
        for name, value in source.items():
            if value is None or value == "" or isinstance(value, Mapping | list | tuple | set):
                continue
            merged[str(name)] = str(value)
    return merged


def render(template: str, variables: Mapping[str, object]) -> Rendered:
    """Replace every `{{name}}` / `{{name | fallback}}`; report the names that had no value and no fallback."""
    exact = {name: value for name, value in variables.items() if value is not None and str(value) != ""}
    loose = {_normalise(name): value for name, value in exact.items()}
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        space, name, fallback = match.group(1), match.group(2), match.group(3)
        value = exact.get(name, loose.get(_normalise(name)))
        if value is not None:
            return space + str(value)
        if fallback is None and name not in missing:
            missing.append(name)
        if fallback:
            return space + fallback
        # Nothing to say: drop the space before it too when a space or punctuation follows,
        # so "Hello {{first_name}}, this is" reads "Hello, this is", not "Hello , this is".
        following = match.string[match.end() : match.end() + 1]
        return "" if following in {"", " ", ",", ".", "!", "?", ";", ":"} else space

    return Rendered(text=_VARIABLE.sub(replace, template), missing=tuple(missing))
