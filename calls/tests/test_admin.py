"""A call's admin page reads as the call went; the calls list keeps the outcome in view."""

import datetime

import pytest
from django.urls import reverse
from django.utils import translation

from calls.admin import CallAdmin, to_the_second
from calls.models import Call, CallEvent, TranscriptTurn

pytestmark = pytest.mark.django_db
ANSWERED = datetime.datetime(2026, 11, 23, 15, 4, 5, tzinfo=datetime.UTC)


@pytest.fixture
def finished_call(call) -> Call:
    Call.objects.filter(pk=call.pk).update(
        status="completed", answered_by="human", answered_at=ANSWERED, started_at=ANSWERED,
        ended_at=ANSWERED + datetime.timedelta(seconds=83), duration_seconds=83, outcome="promised_to_pay",
    )  # fmt: skip
    CallEvent.objects.create(call=call, kind="status", provider_event_id="ringing:1",
                             payload={"CallStatus": "ringing", "CallSid": "CA123", "SequenceNumber": "1"})  # fmt: skip
    TranscriptTurn.objects.create(call=call, index=0, role="agent", text="Hello Ada, this is an automated call.",
                                  started_at=ANSWERED, first_audio_heard_ms=None)  # fmt: skip
    TranscriptTurn.objects.create(call=call, index=1, role="contact", text="Yes, I will pay on Friday.",
                                  started_at=ANSWERED + datetime.timedelta(seconds=7))  # fmt: skip
    TranscriptTurn.objects.create(
        call=call, index=2, role="agent", text="Thank you, goodbye.", interrupted=True,
        started_at=ANSWERED + datetime.timedelta(seconds=12), stt_final_ms=150, first_audio_heard_ms=812,
    )  # fmt: skip
    call.refresh_from_db()
    return call


def test_the_call_page_shows_the_conversation_first_then_the_facts_then_the_events(admin_client, finished_call):
    content = admin_client.get(reverse("admin:calls_call_change", args=[finished_call.pk])).content.decode()
    markers = ('<section id="conversation"', ">Outcome</h2>", '<details id="call-events"')
    conversation, facts, events = (content.index(marker) for marker in markers)
    assert conversation < facts < events
    turns = content[conversation:facts]
    assert turns.index("Hello Ada, this is an automated call.") < turns.index("Yes, I will pay on Friday.")
    assert 'class="turn turn-agent"' in turns
    assert 'class="turn turn-contact"' in turns
    assert ">15:04:12</time>" in turns
    assert "interrupted by the callee · after the callee stopped: STT final 150 ms, heard 812 ms" in turns


def test_the_call_page_gives_times_to_the_second(admin_client, finished_call):
    content = admin_client.get(reverse("admin:calls_call_change", args=[finished_call.pk])).content.decode()
    assert "11/23/2026 15:04:05 UTC" in content  # the date as the operator's language writes it (en: m/d/Y)
    assert "11/23/2026 15:05:28 UTC" in content
    with translation.override("es"):
        assert to_the_second(finished_call.answered_at) == "23/11/2026 15:04:05 UTC"


def test_the_call_page_folds_the_events_with_a_readable_summary(admin_client, finished_call):
    content = admin_client.get(reverse("admin:calls_call_change", args=[finished_call.pk])).content.decode()
    events = content[content.index('<details id="call-events"') :]
    assert "<summary>Provider events (1)</summary>" in events
    assert "CallStatus: ringing" in events
    assert "&quot;CallSid&quot;: &quot;CA123&quot;" in events  # the whole payload, one click further


def test_a_call_with_no_words_says_so(admin_client, call):
    content = admin_client.get(reverse("admin:calls_call_change", args=[call.pk])).content.decode()
    assert "No one spoke on this call." in content


def test_the_calls_list_shows_the_outcome_in_few_columns(admin_client, finished_call):
    assert len(CallAdmin.list_display) <= 7
    content = admin_client.get(reverse("admin:calls_call_changelist")).content.decode()
    assert "promised_to_pay" in content
    assert "Completed · human" in content
    assert "1:23" in content


def test_analyse_again_runs_a_failed_analysis_once_more(admin_client, call, django_capture_on_commit_callbacks):
    from django.utils import timezone

    from calls.models import AnalysisStatus, Call, TranscriptTurn

    Call.objects.filter(pk=call.pk).update(status="completed", ended_at=timezone.now(), analysis_status="failed",
                                           analysis_error="attempt 1: timed out")  # fmt: skip
    TranscriptTurn.objects.create(call=call, index=0, role="contact", text="Yes, that works for me.")

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/calls/call/", {"action": "analyse_again", "_selected_action": [str(call.pk)]}, follow=True
        )

    assert "1 call queued for analysis again." in response.content.decode()
    call.refresh_from_db()
    assert call.analysis_status == AnalysisStatus.DONE
    assert call.summary
