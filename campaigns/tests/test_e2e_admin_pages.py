"""A real browser (Playwright driving Debian's Chromium) on the admin pages an operator reads most:
the dial preview's picker, a call's page, the calls list at 1,400 px, an import job's page.

Chromium is needed (`apt-get install chromium`; `.ci/run` installs it): the shared `browser` fixture
(conftest.py) fails without it.
"""

import datetime

import pytest
from django.utils import timezone

from calls.models import Call, CallEvent, TranscriptTurn
from contacts.models import Contact, ContactImportJob

PASSWORD = "a-long-test-password"


@pytest.fixture
def operator_page(transactional_db, live_server, django_user_model, browser):
    """A logged-in operator whose browser is in New York, on a 1,400 × 900 screen."""
    django_user_model.objects.create_superuser("operator", "op@example.com", PASSWORD)
    page = browser.new_context(timezone_id="America/New_York", viewport={"width": 1400, "height": 900}).new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    return page


def test_the_dial_preview_picker_reads_the_operators_own_time(operator_page, live_server, campaign, contact,
                                                              contact_list):  # fmt: skip
    contact.lists.add(contact_list)
    campaign.contact_lists.add(contact_list)
    page = operator_page
    page.goto(f"{live_server.url}/admin/campaigns/campaign/{campaign.pk}/preview/")
    assert page.input_value("#preview-tz") == "America/New_York"  # the browser's zone, preselected

    page.fill("#preview-at", "2026-11-23T10:00")  # a Monday, 10:00 in New York
    page.click("#preview-form input[type=submit]")
    page.wait_for_selector("#preview-instant")
    assert page.inner_text("#preview-instant") == "11/23/2026 10:00:00 EST"  # the language's short date
    assert page.inner_text("#would-dial") == "1"
    assert page.inner_text("#would-dial-list tbody") == "Ada Byron\t+***0143"
    assert page.input_value("#preview-at") == "2026-11-23T10:00"  # the picker keeps the chosen time


def test_a_calls_page_reads_as_a_conversation_with_the_events_folded(operator_page, live_server, call):
    answered = timezone.now().replace(microsecond=0)
    Call.objects.filter(pk=call.pk).update(status="completed", answered_at=answered, ended_at=answered,
                                           duration_seconds=42, outcome="promised_to_pay")  # fmt: skip
    TranscriptTurn.objects.create(call=call, index=0, role="agent", text="Hello, this is an automated call.")
    TranscriptTurn.objects.create(call=call, index=1, role="contact", text="I will pay on Friday.")
    CallEvent.objects.create(call=call, kind="status", provider_event_id="completed:4",
                             payload={"CallStatus": "completed", "CallDuration": "42"})  # fmt: skip
    page = operator_page
    page.goto(f"{live_server.url}/admin/calls/call/{call.pk}/change/")

    agent, callee = page.locator(".turn-agent .bubble"), page.locator(".turn-contact .bubble")
    assert agent.inner_text() == "Hello, this is an automated call."
    assert callee.bounding_box()["x"] > agent.bounding_box()["x"]  # the callee's words on the other side
    outcome = page.locator("h2", has_text="Outcome")
    assert page.locator("#conversation").bounding_box()["y"] < outcome.bounding_box()["y"]

    summary = page.get_by_text("CallStatus: completed · CallDuration: 42")
    assert not summary.is_visible()  # folded until asked for
    page.click("#call-events > summary")
    assert summary.is_visible()


def test_the_calls_list_shows_the_outcome_on_a_1400_px_screen(operator_page, live_server, agent):
    contact = Contact.objects.create(first_name="Maximiliana", last_name="Featherstonehaugh-Worthington",
                                     phone="+14155550123")  # fmt: skip
    campaign = agent.campaigns.create(name="Spring payment reminders for the north-east region (demo)")
    ended = timezone.now()
    Call.objects.create(contact=contact, campaign=campaign, agent=agent, to_phone=contact.phone,
                        provider="simulated", status="completed", answered_by="machine_end_beep", ended_at=ended,
                        duration_seconds=754, outcome="left_voicemail_message")  # fmt: skip
    page = operator_page
    page.goto(f"{live_server.url}/admin/calls/call/")
    outcome = page.locator("td.field-outcome_in_words").first
    assert outcome.inner_text() == "Voicemail message left"  # Callwright's own outcome, in words
    box = outcome.bounding_box()
    assert box["x"] + box["width"] <= 1400, box


def test_an_import_page_without_an_error_shows_no_error_box(operator_page, live_server):
    now = timezone.now()
    job = ContactImportJob.objects.create(
        file_name="contact-imports/a.csv", original_name="a.csv", file_format="csv", status="done",
        total_rows=1, processed_rows=1, created_count=1, started_at=now - datetime.timedelta(seconds=1),
        finished_at=now,
    )  # fmt: skip
    page = operator_page
    page.goto(f"{live_server.url}/admin/contacts/contactimportjob/{job.pk}/change/")
    page.wait_for_selector("#import-progress")
    assert not page.locator("#import-error").is_visible()
    assert not page.locator("#download-not-imported").is_visible()
