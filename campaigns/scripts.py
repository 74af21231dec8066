"""What an agent's scripts must say (that the call is automated) and which `{{variables}}` they may name.

The disclosure rule is deliberately plain, so an operator can predict it: the first message must hold
one of `DISCLOSURE_TERMS` as whole words. "AI" and "IA" count only in capitals, so that no ordinary
word ("Kai", "ia" in a name) passes for a disclosure.
"""

import re

from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from contacts.selectors import CONTACT_TEMPLATE_FIELDS, custom_field_names
from voice.pipeline.templating import render

DISCLOSURE_TERMS = {
    "English": ("automated", "AI", "A.I.", "artificial intelligence", "virtual assistant", "virtual agent"),
    "Spanish": ("automatizado", "automatizada", "IA", "inteligencia artificial", "asistente virtual", "agente virtual"),
}
_CAPITALS_ONLY = {"AI", "IA", "A.I."}
_DISCLOSURE = re.compile(
    "|".join(
        rf"(?<!\w){re.escape(term)}(?!\w)" if term in _CAPITALS_ONLY else rf"(?i:(?<!\w){re.escape(term)}(?!\w))"
        for terms in DISCLOSURE_TERMS.values()
        for term in terms
    )
)
DISCLOSURE_RULE = _(
    "The first message must tell the callee the call is automated: say “automated”, “AI”, "
    "“virtual assistant” or “artificial intelligence” (in Spanish: “automatizado”, “IA”, "
    "“asistente virtual” or “inteligencia artificial”)."
)
# Past this many, the list of known names in an error is cut short.
KNOWN_NAMES_SHOWN = 25


def discloses_automation(text: str) -> bool:
    """Whether `text` holds one of `DISCLOSURE_TERMS` as whole words."""
    return _DISCLOSURE.search(text) is not None


def known_variable_names() -> list[str]:
    """The names a script may use: the contact fields every contact has, then every custom field seen."""
    return [*CONTACT_TEMPLATE_FIELDS, *(name for name in custom_field_names() if name not in CONTACT_TEMPLATE_FIELDS)]


def unknown_variables(template: str, known: list[str]) -> tuple[str, ...]:
    """The `{{names}}` in `template` that no contact field answers and that have no `| fallback`.

    Matched as a call matches them (exactly, then ignoring case, spaces and dashes), by rendering the
    template against every known name.
    """
    return render(template, dict.fromkeys(known, "x")).missing


def unknown_variables_message(unknown: tuple[str, ...], known: list[str]) -> str:
    """The operator's words for typos such as `{{frist_name}}`."""
    names = ", ".join(f"{{{{{name}}}}}" for name in unknown)
    shown = ", ".join(f"{{{{{name}}}}}" for name in known[:KNOWN_NAMES_SHOWN])
    extra = len(known) - KNOWN_NAMES_SHOWN
    more = gettext(" and %(count)d more") % {"count": extra} if extra > 0 else ""
    message = ngettext(
        "Unknown variable %(names)s: no contact has such a field, so it would be spoken as nothing. "
        "Known: %(known)s%(more)s. For a field only some contacts have, give a fallback: {{name | text}}.",
        "Unknown variables %(names)s: no contact has such a field, so it would be spoken as nothing. "
        "Known: %(known)s%(more)s. For a field only some contacts have, give a fallback: {{name | text}}.",
        len(unknown),
    )
    return message % {"names": names, "known": shown, "more": more}
