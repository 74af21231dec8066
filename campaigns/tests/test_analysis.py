"""Post-call analysis: the real `openai` SDK against a fake OpenAI API on loopback (valid, invalid and slow
replies), the simulated model, idempotency, and the hook that queues it when a call ends."""

import datetime
import json

import pytest
from django.utils import timezone

from calls.models import AnalysisStatus, Call, CallStatus, TranscriptTurn
from calls.services import call_transition
from campaigns.analysis import call_analyse, reply_schema
from campaigns.integrations.models import WebhookSubscription
from campaigns.models import CampaignTarget
from campaigns.policies import default_dispositions
from campaigns.tests.webhook_receiver import receiving
from voice.pipeline.outcome_schema import validation_errors
from voice.providers import speech_selection
from voice.providers.analysis import Disposition
from voice.tests.fake_openai_http import start_fake_openai

OUTCOME_SCHEMA = {
    "type": "object",
    "properties": {
        "will_pay": {"type": "boolean"},
        "amount": {"type": "number", "minimum": 0},
        "pay_by": {"type": "string", "format": "date"},
        "method": {"type": "string", "enum": ["card", "transfer", "cash"]},
    },
    "required": ["will_pay"],
}
VALID = {
    "summary": "Ada agreed to pay 120.50 by card on 14 December.",
    "sentiment": "positive",
    "disposition": "agreed",
    "callback_at": None,
    "fields": {"will_pay": True, "amount": 120.5, "pay_by": "2026-12-14", "method": "card"},
}


@pytest.fixture
def fake_openai(settings):
    fake = start_fake_openai()
    settings.LANGUAGE_MODEL_PROVIDER = "openai"
    settings.OPENAI_API_KEY = "sk-test"
    settings.OPENAI_BASE_URL = fake.base_url
    settings.ANALYSIS_TIMEOUT_SECONDS = 0.5
    speech_selection.reset_cache()
    yield fake
    fake.stop()
    speech_selection.reset_cache()


@pytest.fixture
def finished_call(call, agent, campaign, contact) -> Call:
    agent.outcome_schema = OUTCOME_SCHEMA
    agent.save()
    target = CampaignTarget.objects.create(campaign=campaign, contact=contact, state="in_progress", attempts=1)
    now = timezone.now()
    Call.objects.filter(pk=call.pk).update(
        target=target, status=CallStatus.COMPLETED, answered_by="human", started_at=now, answered_at=now, ended_at=now
    )
    lines = [("agent", "Hello, this is an automated assistant about your balance of 120.50."),
             ("contact", "Yes, I will pay it by card on the 14th."), ("agent", "Thank you, goodbye.")]  # fmt: skip
    TranscriptTurn.objects.bulk_create(
        [TranscriptTurn(call=call, index=index, role=role, text=text) for index, (role, text) in enumerate(lines)]
    )
    call.refresh_from_db()
    return call


def test_a_valid_reply_is_stored_typed_with_summary_sentiment_and_disposition(fake_openai, finished_call):
    fake_openai.reply(VALID, prompt_tokens=300, completion_tokens=60)

    assert call_analyse(call_id=finished_call.pk) == "done"

    finished_call.refresh_from_db()
    assert finished_call.analysis_status == AnalysisStatus.DONE
    assert finished_call.summary == VALID["summary"]
    assert (finished_call.sentiment, finished_call.disposition) == ("positive", "agreed")
    assert finished_call.extracted_data == VALID["fields"]
    assert finished_call.analysis_attempts == 1
    assert finished_call.usage == {"analysis_prompt_tokens": 300, "analysis_completion_tokens": 60}
    (request,) = fake_openai.requests
    response_format = request["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["strict"] is True
    schema = response_format["json_schema"]["schema"]
    fields = schema["properties"]["fields"]
    assert fields["properties"]["amount"]["type"] == ["number", "null"]  # optional → nullable, as strict mode needs
    assert fields["properties"]["will_pay"]["type"] == "boolean"
    assert fields["required"] == ["will_pay", "amount", "method", "pay_by"]  # required first, then by name
    assert fields["additionalProperties"] is False
    assert schema["properties"]["disposition"]["enum"] == [item["code"] for item in default_dispositions()]
    assert "Yes, I will pay it by card" in request["messages"][1]["content"]


def test_a_reply_that_breaks_the_schema_is_retried_once(fake_openai, finished_call):
    broken = {**VALID, "fields": {**VALID["fields"], "amount": "a lot"}}
    fake_openai.reply(broken).reply(VALID)

    assert call_analyse(call_id=finished_call.pk) == "done"

    finished_call.refresh_from_db()
    assert finished_call.analysis_attempts == 2
    assert finished_call.extracted_data["amount"] == 120.5
    assert len(fake_openai.requests) == 2


def test_two_breaking_replies_store_the_analysis_as_failed_with_the_reasons(fake_openai, finished_call):
    fake_openai.reply("Sure! Here is the JSON you asked for").reply({**VALID, "disposition": "paid_in_gold"})

    assert call_analyse(call_id=finished_call.pk) == "failed"

    finished_call.refresh_from_db()
    assert finished_call.analysis_status == AnalysisStatus.FAILED
    assert "attempt 1: the reply breaks the schema: not JSON" in finished_call.analysis_error
    assert "attempt 2: the reply breaks the schema: disposition: 'paid_in_gold' is not one of" in (
        finished_call.analysis_error
    )
    assert finished_call.summary == ""
    assert finished_call.disposition == ""
    assert finished_call.usage["analysis_prompt_tokens"] == 240  # both replies were paid for


def test_a_wrongly_typed_date_is_a_breaking_reply(fake_openai, finished_call):
    bad_date = {**VALID, "fields": {**VALID["fields"], "pay_by": "next Friday"}}
    fake_openai.reply(bad_date).reply(bad_date)

    assert call_analyse(call_id=finished_call.pk) == "failed"

    finished_call.refresh_from_db()
    assert "fields.pay_by: 'next Friday' is not a 'date'" in finished_call.analysis_error


def test_a_slow_answer_is_given_up_and_tried_again(fake_openai, finished_call):
    fake_openai.held().reply(VALID)

    assert call_analyse(call_id=finished_call.pk) == "done"

    finished_call.refresh_from_db()
    assert finished_call.analysis_attempts == 2


def test_two_slow_answers_fail_saying_the_model_did_not_answer_in_time(fake_openai, finished_call):
    fake_openai.held().held()

    assert call_analyse(call_id=finished_call.pk) == "failed"

    finished_call.refresh_from_db()
    assert finished_call.analysis_error.count("no answer within 0.5 s") == 2


def test_a_permanent_error_is_not_retried(fake_openai, finished_call):
    fake_openai.error(401, "Incorrect API key provided")

    assert call_analyse(call_id=finished_call.pk) == "failed"

    finished_call.refresh_from_db()
    assert "HTTP 401" in finished_call.analysis_error
    assert len(fake_openai.requests) == 1


def test_a_refusal_is_a_breaking_reply(fake_openai, finished_call):
    fake_openai.refuse("I cannot help with that").reply(VALID)

    assert call_analyse(call_id=finished_call.pk) == "done"


def test_the_analysis_runs_once(fake_openai, finished_call):
    fake_openai.reply(VALID)

    assert call_analyse(call_id=finished_call.pk) == "done"
    assert call_analyse(call_id=finished_call.pk) == ""

    assert len(fake_openai.requests) == 1


def test_values_recorded_during_the_call_win_over_the_analysis(fake_openai, finished_call):
    Call.objects.filter(pk=finished_call.pk).update(extracted_data={"method": "transfer"})
    fake_openai.reply(VALID)

    call_analyse(call_id=finished_call.pk)

    finished_call.refresh_from_db()
    assert finished_call.extracted_data["method"] == "transfer"
    assert finished_call.extracted_data["amount"] == 120.5


def test_a_call_without_a_conversation_is_skipped_saying_why(fake_openai, call):
    Call.objects.filter(pk=call.pk).update(status=CallStatus.NO_ANSWER, ended_at=timezone.now())

    assert call_analyse(call_id=call.pk) == "skipped"

    call.refresh_from_db()
    assert call.analysis_status == AnalysisStatus.SKIPPED
    assert "callee said nothing" in call.analysis_error
    assert fake_openai.requests == []


def test_the_simulated_model_answers_valid_typed_fields(finished_call):
    assert call_analyse(call_id=finished_call.pk) == "done"

    finished_call.refresh_from_db()
    assert validation_errors(OUTCOME_SCHEMA, finished_call.extracted_data) == []
    assert finished_call.extracted_data["will_pay"] is True
    assert finished_call.extracted_data["amount"] == 120.5  # the number the callee's words held
    assert finished_call.sentiment == "positive"
    assert finished_call.disposition in {item["code"] for item in default_dispositions()}
    assert "Yes, I will pay it by card" in finished_call.summary


def test_a_call_that_ends_queues_its_analysis_after_the_commit(finished_call, django_capture_on_commit_callbacks):
    Call.objects.filter(pk=finished_call.pk).update(status=CallStatus.IN_PROGRESS, ended_at=None)

    with django_capture_on_commit_callbacks(execute=True):
        assert call_transition(call_id=finished_call.pk, status=CallStatus.COMPLETED)
        finished_call.refresh_from_db()
        assert finished_call.analysis_status == AnalysisStatus.NOT_REQUESTED  # not inside the transaction

    finished_call.refresh_from_db()
    assert finished_call.analysis_status == AnalysisStatus.DONE


def test_the_reply_schema_lists_the_campaigns_codes_only():
    schema = reply_schema({}, [Disposition("paid", "Paid"), Disposition("refused", "Refused")])

    assert schema["properties"]["disposition"]["enum"] == ["paid", "refused"]
    assert "fields" not in schema["properties"]
    assert validation_errors(schema, {"summary": "x", "sentiment": "neutral", "disposition": "paid",
                                      "callback_at": "2026-12-08T10:00:00-05:00"}) == []  # fmt: skip
    assert validation_errors(schema, {"summary": "x", "sentiment": "neutral", "disposition": "paid",
                                      "callback_at": "tomorrow"})  # fmt: skip


def test_the_reply_is_json_the_model_can_follow(fake_openai, finished_call):
    fake_openai.reply(json.dumps(VALID))
    call_analyse(call_id=finished_call.pk)
    system, user = fake_openai.requests[0]["messages"]
    assert system["role"] == "system"
    assert "never guess" in system["content"]
    assert "callback_requested: Callback requested" in user["content"]
    assert datetime.date.today().isoformat()[:4] in user["content"]  # the call's end, for relative dates


def test_an_analysis_that_breaks_is_stored_as_failed_not_left_running(finished_call, settings, monkeypatch):
    from campaigns import analysis

    def broken() -> None:
        raise RuntimeError("no analyzer configured")

    monkeypatch.setattr(analysis, "call_analyzer", broken)  # our own module's seam, not a library's

    with pytest.raises(RuntimeError):
        call_analyse(call_id=finished_call.pk)

    finished_call.refresh_from_db()
    assert finished_call.analysis_status == AnalysisStatus.FAILED
    assert "RuntimeError: no analyzer configured" in finished_call.analysis_error


def test_a_call_whose_conversation_is_still_recording_is_analysed_once_it_has(finished_call):
    from calls.models import CallEvent
    from campaigns.analysis import ConversationNotRecorded
    from campaigns.tasks import analyse_calls

    CallEvent.objects.create(call=finished_call, kind="media", provider_event_id="start:MZ1")

    with pytest.raises(ConversationNotRecorded):
        call_analyse(call_id=finished_call.pk)
    finished_call.refresh_from_db()
    assert finished_call.analysis_status == AnalysisStatus.NOT_REQUESTED  # not claimed: asked again later

    CallEvent.objects.create(call=finished_call, kind="system", provider_event_id="conversation-end")
    analyse_calls([str(finished_call.pk)])
    finished_call.refresh_from_db()
    assert finished_call.analysis_status == AnalysisStatus.DONE


def test_a_conversation_that_never_records_its_end_is_analysed_after_the_last_round(finished_call):
    from calls.models import CallEvent
    from campaigns.tasks import analyse_calls

    CallEvent.objects.create(call=finished_call, kind="media", provider_event_id="start:MZ1")

    analyse_calls([str(finished_call.pk)])  # eager: each later round runs at once, the last analyses anyway

    finished_call.refresh_from_db()
    assert finished_call.analysis_status == AnalysisStatus.DONE


def test_the_simulated_model_leaves_unsettled_optional_fields_null_and_fills_required_ones():
    from voice.providers.analysis import AnalysisRequest, TranscriptLine
    from voice.providers.simulated_analysis import SimulatedCallAnalyzer

    schema = {"type": "object", "required": ["reached"], "properties": {
        "reached": {"type": "boolean"}, "plan": {"enum": ["gold", "silver"]}, "seats": {"type": "integer"},
        "on": {"type": "string", "format": "date"}}}  # fmt: skip
    request_schema = reply_schema(schema, [Disposition("reached", "Reached")])
    lines = [TranscriptLine("agent", "Hello, this is an automated call."), TranscriptLine("contact", "Okay, silver.")]

    codes = [Disposition("reached", "Reached")]
    reply = json.loads(SimulatedCallAnalyzer().analyze(AnalysisRequest(lines, request_schema, codes)).text)

    assert validation_errors(request_schema, reply) == []
    assert reply["fields"] == {"reached": True, "plan": "silver", "seats": None, "on": None}


@pytest.fixture
def receiver():
    yield from receiving([200])


def test_a_stored_analysis_is_sent_as_the_call_analyzed_webhook(
    receiver, finished_call, django_capture_on_commit_callbacks
):
    WebhookSubscription.objects.create(
        name="CRM", url=receiver.url, events=["call.analyzed"], secret="whsec_test-secret-0123456789"
    )

    with django_capture_on_commit_callbacks(execute=True):
        assert call_analyse(call_id=finished_call.pk) == "done"
        assert receiver.received == []  # after the commit, never inside the transaction

    (envelope,) = [json.loads(request.body) for request in receiver.received]
    finished_call.refresh_from_db()
    assert envelope["type"] == "call.analyzed"
    assert envelope["data"]["summary"] == finished_call.summary
    assert envelope["data"]["extracted_data"] == finished_call.extracted_data


def test_the_sweep_queues_an_analysis_never_queued_and_one_abandoned_mid_run(finished_call):
    """The broker was down as one call ended (its analysis never queued); another's worker died mid-analysis
    (claimed 20 min ago, never finished). Beat's sweep analyses both; a recent or finished one is left alone."""
    from calls.services import STALE_CLAIM
    from campaigns.tasks import resume_stalled_analyses

    long_ago = timezone.now() - STALE_CLAIM - datetime.timedelta(minutes=5)
    Call.objects.filter(pk=finished_call.pk).update(ended_at=long_ago)
    abandoned = Call.objects.create(contact=finished_call.contact, agent=finished_call.agent, to_phone="+14155550123",
                                    status=CallStatus.NO_ANSWER, ended_at=long_ago,
                                    analysis_status=AnalysisStatus.RUNNING, analysis_started_at=long_ago)  # fmt: skip
    recent = Call.objects.create(contact=finished_call.contact, agent=finished_call.agent, to_phone="+14155550124",
                                 status=CallStatus.NO_ANSWER, ended_at=timezone.now())  # fmt: skip

    assert resume_stalled_analyses() == 2  # tasks run inline in the tests

    finished_call.refresh_from_db()
    abandoned.refresh_from_db()
    recent.refresh_from_db()
    assert finished_call.analysis_status == AnalysisStatus.DONE
    assert abandoned.analysis_status == AnalysisStatus.SKIPPED
    assert recent.analysis_status == AnalysisStatus.NOT_REQUESTED  # its own task may still be on its way
    assert resume_stalled_analyses() == 0  # nothing twice


def test_the_sweep_does_nothing_with_analysis_off(finished_call, settings):
    from calls.services import STALE_CLAIM
    from campaigns.tasks import resume_stalled_analyses

    settings.ANALYSIS_ENABLED = False
    Call.objects.filter(pk=finished_call.pk).update(ended_at=timezone.now() - STALE_CLAIM * 2)

    assert resume_stalled_analyses() == 0
    finished_call.refresh_from_db()
    assert finished_call.analysis_status == AnalysisStatus.NOT_REQUESTED
