"""The translation catalogues: the Spanish one is complete, and every compiled `.mo` is its `.po`.

Project messages are those `make messages` extracted into `locale/<code>/LC_MESSAGES/django.po`, and the live
pages' scripts' into `djangojs.po` (served by Django's JavaScriptCatalog at /jsi18n/). The `.mo`
files are committed beside them (the app runs without GNU gettext installed), so a `.po` edited but not
compiled would silently serve the old text: these tests read the compiled catalogue and compare.
"""

import ast
import gettext
from pathlib import Path

import pytest
from django.conf import settings

LOCALE = Path(settings.BASE_DIR) / "locale"
COMPLETE = ["es"]  # the admin's languages besides English: every project message translated
PARTIAL = ["fr", "de", "pt"]  # the voice phrases only; the rest falls back to English
DOMAINS = ["django", "djangojs"]  # the server's messages, the scripts' messages


def po_entries(language: str, domain: str = "django") -> dict[str, str]:
    """{msgid (with "msgctxt\\x04" prefixed, as .mo files key them): msgstr} of a .po; plural entries keyed by
    msgid with their first form. A small reader for the files `makemessages` writes."""
    entries: dict[str, str] = {}
    current: dict[str, str] = {}
    key = ""

    def flush() -> None:
        if current.get("msgid"):
            msgid = current["msgid"]
            if "msgctxt" in current:
                msgid = f"{current['msgctxt']}\x04{msgid}"
            entries[msgid] = current.get("msgstr", current.get("msgstr[0]", ""))
        current.clear()

    for line in (LOCALE / language / "LC_MESSAGES" / f"{domain}.po").read_text().splitlines():
        if not line.strip():
            flush()
        elif line.startswith(("msgctxt ", "msgid ", "msgid_plural ", "msgstr")):
            key, _, literal = line.partition(" ")
            current[key] = ast.literal_eval(literal)
        elif line.startswith('"'):
            current[key] += ast.literal_eval(line)
    flush()
    return entries


def compiled(language: str, domain: str = "django") -> gettext.GNUTranslations:
    with (LOCALE / language / "LC_MESSAGES" / f"{domain}.mo").open("rb") as file:
        return gettext.GNUTranslations(file)


def translation_of(catalogue: gettext.GNUTranslations, msgid: str) -> str:
    """A singular message's translation, or a plural one's first form."""
    text = catalogue.gettext(msgid)
    return catalogue.ngettext(msgid, msgid, 1) if text == msgid else text


@pytest.mark.parametrize("domain", DOMAINS)
@pytest.mark.parametrize("language", COMPLETE)
def test_the_spanish_catalogue_translates_every_project_message(language, domain):
    entries = po_entries(language, domain)
    assert len(entries) > 20
    catalogue = compiled(language, domain)
    untranslated = [msgid for msgid in entries if translation_of(catalogue, msgid) in ("", msgid)]
    assert untranslated == [], f"untranslated in locale/{language}/LC_MESSAGES/{domain}.po: {untranslated}"


@pytest.mark.parametrize("domain", DOMAINS)
@pytest.mark.parametrize("language", COMPLETE + PARTIAL)
def test_each_compiled_catalogue_is_its_po_file(language, domain):
    catalogue = compiled(language, domain)
    translated = {msgid: text for msgid, text in po_entries(language, domain).items() if text}
    assert {msgid: translation_of(catalogue, msgid) for msgid in translated} == translated, "run `make messages`"


@pytest.mark.parametrize("language", COMPLETE + PARTIAL)
def test_every_voice_phrase_is_translated(language):
    from voice.phrases import Phrases, phrases_for

    english, translated = Phrases(), phrases_for(language)
    assert [key for key, text in vars(translated).items() if text == getattr(english, key)] == []
