"""Every admin page a Spanish-speaking operator opens is in Spanish: no English left on it.

Each registered model's list, add and change pages, the app and site indexes, and the custom pages (the contact
import's upload and preview, an import's progress, the suppression upload, the erase confirmation, the dial
preview, the campaign's reports, the live board and a live call) are rendered for a Spanish operator and for an
English one, over the same data. Two checks read their visible text (text nodes outside <script>/<style>, and
the labels people read in attributes: title, placeholder, aria-label, a button's value):

- **Marked but shown untranslated**: no text on the Spanish page is the msgid of an entry our Spanish catalogue
  translates into something else (a lazy string evaluated at import time, a `gettext` where the language was
  not yet active, a template without `{% load i18n %}`).
- **Never marked**: a text the Spanish page shows exactly as the English one does is English nobody marked —
  unless it is data (a value stored in the database, e.g. a contact's name or a campaign's), carries no words
  (numbers, times, codes, addresses, identifiers) or is in `SAME_IN_BOTH` (proper names and the words Spanish
  shares with English). Django's own texts take part too: Django's Spanish catalogue translates them.
"""

import csv
import io
import json
import re
import zoneinfo
from html.parser import HTMLParser

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import models
from django.urls import NoReverseMatch, reverse
from django.utils import timezone, translation
from django.utils.text import capfirst

from calls.models import Call, CallEvent, TranscriptTurn
from campaigns.integrations.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from campaigns.integrations.tokens import integration_token_create
from campaigns.models import CampaignReport, CampaignTarget
from config.tests.test_translations import po_entries
from contacts.models import (
    Consent,
    ConsentPurpose,
    ContactImportIssue,
    ContactImportJob,
    OperatorAction,
    OperatorPreference,
    Suppression,
)
from monitoring.models import AlertEvent, AlertRule

pytestmark = pytest.mark.django_db

# Texts a Spanish page rightly shows as the English one does: names of products and standards, and words
# Spanish writes the same way. Anything else identical in both is English left unmarked.
SAME_IN_BOTH = {
    "Callwright", "Django", "Twilio", "ElevenLabs", "OpenAI", "Slack", "Excel", "CSV", "XLSX", "JSON", "API",
    "URL", "ID", "Email", "Fax", "E.164", "IANA", "BCP 47", "UUID", "STT", "TTS", "LLM", "HMAC-SHA256",
    "Reg F", "CALL_PRICES", "ms", "total", "Total", "No", "Error", "error", "normal", "final",
    "Español", "English", "csv", "xlsx",
}  # fmt: skip
# Django's own admin writes these in English whatever the language (the search icon's alt text, the boolean
# icons' alt texts): not ours to translate.
DJANGO_UNTRANSLATED = {"Search", "True", "False", "None"}
# The report workbook's sheet names, which the reports page names as the workbook does (in English).
SHEET_NAMES = {"Summary", "Contacts", "Heatmap", "Calls"}
# Our apps; the pages of the others (auth, axes, django-celery-beat) carry their packages' words, not ours.
OUR_APPS = {"contacts", "calls", "campaigns", "monitoring"}
# Texts without words a translation would change: numbers, codes (snake_case, UPPER_CASE), addresses, e-mails,
# file names, identifiers, masked numbers, regions ("ES (+34)"), IANA zone names.
WORDLESS = re.compile(
    r"^(?:[\W\d_]+|[a-z0-9]+(?:[_.:][a-z0-9]+)+|[A-Z0-9_]{2,}|\S+@\S+|\S+\.(?:csv|xlsx|json|zip|mp3|wav)"
    r"|(?:https?|wss?)://\S+|/\S*|[0-9a-f]{8}(?:-[0-9a-f]{4}){0,4}\S*|\+?\*+\d+|[A-Z]{2,5}(?: \(\+\d+\))?"
    r"|[A-Z][A-Za-z]+(?:/[A-Z][A-Za-z_\- ]+)+)$"
)
# A phone number as the pages write it: E.164, national or international format.
PHONE_NUMBER = re.compile(r"\+?[\d() \-]{7,}\d")
# The custom pages' names (not under an app label), all ours.
OUR_PAGES = {"index", "contact", "suppression", "erase", "dial", "campaign", "live"}
ATTRIBUTES_READ = {"title", "placeholder", "aria-label", "alt"}


class VisibleText(HTMLParser):
    """The texts a person reads on a page: text nodes outside script, style and template, and labels in
    attributes (`ATTRIBUTES_READ`, and a button's or submit input's value), whitespace collapsed."""

    SKIPPED = {"script", "style", "template", "textarea", "pre", "code"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._skipping: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in self.SKIPPED:
            self._skipping.append(tag)
        for name in ATTRIBUTES_READ:
            self._add(values.get(name))
        if tag == "input" and values.get("type") in ("submit", "button"):
            self._add(values.get("value"))

    def handle_endtag(self, tag: str) -> None:
        if self._skipping and self._skipping[-1] == tag:
            self._skipping.pop()

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self._add(data)

    def _add(self, text: str | None) -> None:
        text = " ".join((text or "").split())
        if text:
            self.texts.append(text)


def visible_texts(html: str) -> list[str]:
    parser = VisibleText()
    parser.feed(html)
    return parser.texts


def stored_values() -> set[str]:
    """Every text the database holds, each JSON value as written and its "key: value" pairs, and each object's
    str(): data, shown as it is in any language."""
    values: set[str] = set()
    for model in apps.get_models():
        fields = [f.attname for f in model._meta.concrete_fields if isinstance(f, TEXT_FIELDS)]
        for row in model._meta.default_manager.values_list(*fields) if fields else ():
            for value in row:
                values |= written(value)
        values |= {" ".join(str(obj).split()) for obj in model._meta.default_manager.all()[:50]}
    return values - {""}


TEXT_FIELDS = (models.CharField, models.TextField, models.JSONField)


def written(value: object) -> set[str]:
    if isinstance(value, dict):
        return {json.dumps(value, ensure_ascii=False), *(f"{key}: {item}" for key, item in value.items())}
    if isinstance(value, list):
        return {json.dumps(value, ensure_ascii=False), *(str(item) for item in value)}
    return {" ".join(str(value or "").split())}


def words_left(text: str, data: set[str]) -> bool:
    """Whether `text` still has words once the data it quotes (names, numbers) is taken out of it."""
    for value in sorted((value for value in data if len(value) > 2), key=len, reverse=True):
        text = text.replace(value, " ")
    return bool(re.search(r"[A-Za-z]{2}", PHONE_NUMBER.sub(" ", text)))


def others_names() -> set[str]:
    """The names of the apps and models that are not ours, as the sidebar shows them in the active language."""
    names = set()
    for model in apps.get_models():
        if model._meta.app_label not in OUR_APPS:
            names |= {capfirst(str(model._meta.verbose_name_plural)), str(model._meta.app_config.verbose_name)}
    return names


def shown_as(text: str) -> str:
    """A text as compared: without a breadcrumb's "›" before it, or a label's ":" after it."""
    return text.removeprefix("›").rstrip(":").strip()


@pytest.fixture
def everything(contact, contact_list, campaign, call, agent, admin_user):
    """One object of each registered model (where the admin can show one), linked as in real use."""
    now = timezone.now()
    contact.lists.add(contact_list)
    campaign.contact_lists.add(contact_list)
    Consent.objects.create(contact=contact, purpose=ConsentPurpose.INFORMATIONAL, source="web form", given_at=now)
    Suppression.objects.create(phone="+12025550199", reason="asked", source=Suppression.Source.ADMIN)
    job = ContactImportJob.objects.create(
        file_name="contact-imports/x.csv", original_name="people.csv", file_format="csv", status="done",
        total_rows=2, processed_rows=2, created_count=1, rejected_count=1, finished_at=now,
    )  # fmt: skip
    ContactImportIssue.objects.create(
        job=job, row_number=3, outcome=ContactImportIssue.Outcome.REJECTED, reason="bad", values=["x", "1"]
    )
    OperatorAction.objects.create(
        actor=admin_user, action=OperatorAction.Action.ERASE, target_type="contact", target_id="1", target_repr="x"
    )
    target = CampaignTarget.objects.create(campaign=campaign, contact=contact)
    Call.objects.filter(pk=call.pk).update(target=target)
    CallEvent.objects.create(call=call, kind=CallEvent.Kind.STATUS, provider_event_id="ringing:1",
                             payload={"CallStatus": "ringing"})  # fmt: skip
    TranscriptTurn.objects.create(call=call, index=0, role=TranscriptTurn.Role.AGENT, text="Hola.",
                                  started_at=now, first_audio_heard_ms=800)  # fmt: skip
    CampaignReport.objects.create(campaign=campaign, created_by=admin_user)
    integration_token_create(name="CRM", user=admin_user)
    subscription = WebhookSubscription.objects.create(name="CRM", url="https://crm.example/hooks",
                                                      secret="s", events=["call.ended"])  # fmt: skip
    delivery = WebhookDelivery.objects.create(subscription=subscription, event="call.ended", event_key="k",
                                              payload={})  # fmt: skip
    WebhookAttempt.objects.create(delivery=delivery, number=1, status_code=500, error="HTTP 500")
    rule = AlertRule.objects.create(name="Failures", metric="failed_call_share", threshold=0.5,
                                    recipients="ops@example.com")  # fmt: skip
    AlertEvent.objects.create(rule=rule, kind=AlertEvent.Kind.FIRED, value=0.6, message="too many")
    return {"contact": contact, "campaign": campaign, "call": call, "job": job}


def operator(username: str, language: str):
    user = get_user_model().objects.create_superuser(username, f"{username}@example.com", "contraseña-de-prueba")
    OperatorPreference.objects.create(user=user, language=language)
    return user


def admin_pages(objects: dict) -> list[tuple[str, str]]:
    """(what, URL) of each page to read: indexes, each registered model's list, add and change pages, and the
    custom pages reached by GET. `what` starts with the page's app label ("auth_user list", "calls app")."""
    pages = [("index", reverse("admin:index"))]
    for model in apps.get_models():
        if not admin.site.is_registered(model):
            continue
        meta = model._meta
        name = f"{meta.app_label}_{meta.model_name}"
        pages.append((f"{meta.app_label} app", reverse("admin:app_list", args=[meta.app_label])))
        pages.append((f"{name} list", reverse(f"admin:{name}_changelist")))
        pages.append((f"{name} add", reverse(f"admin:{name}_add")))
        first = model._meta.default_manager.order_by("pk").first()
        if first is not None:
            pages.append((f"{name} change", reverse(f"admin:{name}_change", args=[first.pk])))
    campaign, call = objects["campaign"], objects["call"]
    for what, name, args in (
        ("contact import", "admin:contacts_contact_import", []),
        ("suppression upload", "admin:contacts_suppression_import_numbers", []),
        ("dial preview", "admin:campaigns_campaign_preview", [campaign.pk]),
        ("campaign reports", "admin:campaigns_campaign_reports", [campaign.pk]),
        ("live board", "live:board", []),
        ("live call", "live-calls:call", [call.pk]),
    ):
        try:
            pages.append((what, reverse(name, args=args)))
        except NoReverseMatch:
            pytest.fail(f"{what}: no page named {name}")
    return sorted(set(pages))


UPLOADED_NAMES = ("Ana", "Nadie", "Ana otra vez")  # the preview's people: data from the file, not the database
UPLOADED_PHONES = ("612 345 678", "12345", "+34 612 345 678")


def contact_import_preview(client) -> str:
    rows = io.StringIO()
    csv.writer(rows).writerows(
        [["Name", "Phone", "Email"], *zip(UPLOADED_NAMES, UPLOADED_PHONES, ["ana@example.com", "", ""], strict=True)]
    )
    upload = SimpleUploadedFile("personas.csv", rows.getvalue().encode())
    response = client.post(
        reverse("admin:contacts_contact_import"),
        {"import_file": upload, "format": "0", "resource": "0", "region": "ES"},
    )
    assert response.status_code == 200, "the import preview"
    return response.content.decode()


def erase_confirmation(client, contact) -> str:
    response = client.post(
        reverse("admin:contacts_contact_changelist"),
        {"action": "erase_personal_data", "_selected_action": [contact.pk]},
    )
    assert response.status_code == 200, "the erase confirmation"
    return response.content.decode()


def rendered(client, objects: dict) -> dict[str, str]:
    """{what: HTML} of every page; a page this operator may not open (a read-only model's add page) is left out."""
    pages = {}
    for what, url in admin_pages(objects):
        response = client.get(url)
        assert response.status_code in (200, 403), f"{what} ({url}): {response.status_code}"
        if response.status_code == 200:
            pages[what] = response.content.decode()
    pages["contact import preview"] = contact_import_preview(client)
    pages["erase confirmation"] = erase_confirmation(client, objects["contact"])
    return pages


@pytest.fixture
def pages_in_both(client, everything):
    """({what: Spanish HTML}, {what: English HTML}) over the same data."""
    client.force_login(operator("lucia", "es"))
    spanish = rendered(client, everything)
    client.logout()
    client.force_login(operator("lucy", "en"))
    english = rendered(client, everything)
    assert spanish.keys() == english.keys()
    assert len(spanish) > 60, "every registered model's pages and the custom ones"
    assert all('<html lang="es"' in html for html in spanish.values() if "<html" in html)
    return spanish, english


def test_no_page_shows_a_marked_string_left_in_english(pages_in_both):
    spanish, _ = pages_in_both
    translated = {msgid for msgid, text in po_entries("es").items() if text and text != msgid and "\x04" not in msgid}
    data = stored_values()
    left = {
        (what, text)
        for what, html in spanish.items()
        for text in map(shown_as, visible_texts(html))
        if text in translated and text not in data and text not in SHEET_NAMES
    }
    assert not left, "marked, shown in English:\n" + "\n".join(map(str, sorted(left)))


def test_no_page_shows_english_that_was_never_marked(pages_in_both):
    spanish, english = pages_in_both
    with translation.override("es"):
        others = others_names()
    data = stored_values() | {"lucia", "lucy"} | set(UPLOADED_NAMES)
    kept = (
        data
        | zoneinfo.available_timezones()
        | {"localtime"}
        | others
        | SAME_IN_BOTH
        | DJANGO_UNTRANSLATED
        | SHEET_NAMES
    )
    left = set()
    for what, html in spanish.items():
        if what.split(" ")[0].split("_")[0] not in (*OUR_APPS, *OUR_PAGES):
            continue  # another package's page: its words are its own (its sidebar shows ours, checked elsewhere)
        english_texts = set(map(shown_as, visible_texts(english[what])))
        for text in map(shown_as, visible_texts(html)):
            if text not in english_texts or text in kept or WORDLESS.match(text) or is_a_moment(text):
                continue
            if words_left(text, data):
                left.add((what, text))
    assert not left, "never marked:\n" + "\n".join(map(str, sorted(left)))


def is_a_moment(text: str) -> bool:
    """A date or time as written on the pages ("10:00:00 EST", "2026-11-23", "Dec. 7, 2026" is not: it has
    words)."""
    return bool(re.fullmatch(r"[\d/.:\- ]+(?:[AP]M|a\.m\.|p\.m\.)?(?: [A-Z]{2,5}|[+-]\d{2}:?\d{2})?", text))


def test_the_checks_see_english_left_on_a_page():
    """The reader finds what a person sees, and not what only a program reads."""
    html = (
        '<p>Hola <a title="Open it">x</a></p><script>const word = "Hidden";</script>'
        '<input type="submit" value="Send"><style>p { color: red }</style><textarea>typed</textarea>'
    )
    assert visible_texts(html) == ["Hola", "Open it", "x", "Send"]
    assert all(WORDLESS.match(code) for code in ("in_progress", "+***0143", "ES (+34)", "America/New_York"))
    assert not WORDLESS.match("Dial preview")
    assert is_a_moment("11/23/2026 10:00:00 EST")
    assert not is_a_moment("Live calls")
    assert not words_left("Ada Byron ((202) 555-0143)", {"Ada Byron"})
    assert words_left("Ada Byron, no number", {"Ada Byron"})
