"""The calls API: read calls with their events and transcript; place one through the dial-time gate."""

import pytest
from django.utils import timezone

from calls.models import Call, CallEvent, TranscriptTurn
from calls.tests.test_tasks import zone_at_local_hour
from conftest import grant
from contacts.models import Contact, Suppression

pytestmark = pytest.mark.django_db
URL = "/api/v1/calls/"


def test_calls_are_read_with_events_turns_latency_and_extracted_fields(token_client, api_user, call):
    grant(api_user, "view_call")
    Call.objects.filter(pk=call.pk).update(extracted_data={"paid": True}, latency_stats={"p50_ms": 640})
    CallEvent.objects.create(call=call, kind="status", provider_event_id="ringing:1", payload={"CallStatus": "ringing"})
    TranscriptTurn.objects.create(call=call, index=0, role="agent", text="Hello, this is an automated call.")
    listed = token_client.get(URL, {"campaign": call.campaign_id, "status": "queued"}).json()["results"]
    assert [row["id"] for row in listed] == [str(call.pk)]
    detail = token_client.get(f"{URL}{call.pk}/").json()
    assert detail["extracted_data"] == {"paid": True}
    assert detail["latency_stats"] == {"p50_ms": 640}
    assert [event["provider_event_id"] for event in detail["events"]] == ["ringing:1"]
    assert detail["turns"][0]["text"] == "Hello, this is an automated call."


def test_calls_filter_by_outcome_and_date(token_client, api_user, call):
    grant(api_user, "view_call")
    Call.objects.filter(pk=call.pk).update(outcome="answered")
    assert len(token_client.get(URL, {"outcome": "answered"}).json()["results"]) == 1
    assert token_client.get(URL, {"outcome": "busy"}).json()["results"] == []
    tomorrow = (timezone.now() + timezone.timedelta(days=1)).isoformat()
    assert token_client.get(URL, {"created_after": tomorrow}).json()["results"] == []
    assert token_client.get(URL, {"status": "nonsense"}).status_code == 400


def test_reading_calls_needs_the_view_permission(token_client):
    assert token_client.get(URL).status_code == 403


def test_a_call_is_placed_to_a_contact_with_an_agent(
    token_client, api_user, contact, agent, settings, django_capture_on_commit_callbacks
):
    grant(api_user, "view_call", "add_call")
    settings.SIMULATED_CARRIER_PERSONA = "busy"
    Contact.objects.filter(pk=contact.pk).update(time_zone=zone_at_local_hour(12))
    with django_capture_on_commit_callbacks(execute=True):
        response = token_client.post(URL, {"contact": contact.pk, "agent": agent.pk}, format="json")
    assert response.status_code == 201, response.json()
    call = Call.objects.get()
    assert (call.agent_id, call.campaign_id, str(call.pk)) == (agent.pk, None, response.json()["id"])
    assert call.provider_call_id.startswith("CA")


def test_a_refused_call_says_which_rule_and_when_it_opens(token_client, api_user, contact, agent):
    grant(api_user, "view_call", "add_call")
    Contact.objects.filter(pk=contact.pk).update(time_zone=zone_at_local_hour(3))
    response = token_client.post(URL, {"contact": contact.pk, "agent": agent.pk}, format="json")
    assert response.status_code == 409
    body = response.json()
    assert (body["code"], body["rule"]) == ("dial_refused", "Outside callee-local calling hours")
    assert body["opens"].endswith(":00 " + body["opens"].split()[-1])
    assert not Call.objects.exists()
    Suppression.objects.create(phone=contact.phone, source=Suppression.Source.ADMIN)
    assert token_client.post(URL, {"contact": contact.pk, "agent": agent.pk}, format="json").json()["rule"] == (
        "On the do-not-call list"
    )


def test_placing_a_call_needs_the_add_permission_and_a_known_agent(token_client, api_user, contact, agent):
    grant(api_user, "view_call")
    assert token_client.post(URL, {"contact": contact.pk, "agent": agent.pk}, format="json").status_code == 403
    grant(api_user, "add_call")
    missing = token_client.post(URL, {"contact": contact.pk, "agent": 999}, format="json")
    assert (missing.status_code, list(missing.json()["errors"])) == (400, ["agent"])


def test_filtering_calls_by_status_selects_no_distinct_rows(token_client, api_user, call):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    grant(api_user, "view_call")
    with CaptureQueriesContext(connection) as queries:
        assert len(token_client.get(URL, {"status": ["queued", "busy"]}).json()["results"]) == 1
    assert not any("DISTINCT" in query["sql"] for query in queries.captured_queries if "calls_call" in query["sql"])
