"""A call's live page and the steering done from it: permission-checked, audited, in words when refused."""

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.utils import timezone

from calls.live_events import STEER_MESSAGE_TYPE, call_group
from calls.models import Call, CallEvent, TranscriptTurn
from contacts.models import OperatorAction, Suppression

pytestmark = pytest.mark.django_db


@pytest.fixture
def supervisor(django_user_model, supervisor_group):
    user = django_user_model.objects.create_user(username="sam", password="x", is_staff=True)
    user.groups.add(supervisor_group)
    return user


@pytest.fixture
def supervisor_client(client, supervisor):
    client.force_login(supervisor)
    return client


@pytest.fixture
def operator_client(client, django_user_model):
    """Staff who may see calls in the admin, but not supervise them live."""
    from conftest import grant

    operator = django_user_model.objects.create_user(username="olive", password="x", is_staff=True)
    grant(operator, "view_call")
    client.force_login(operator)
    return client


def test_the_call_page_shows_the_transcript_with_latency_and_the_masked_number(supervisor_client, call):
    TranscriptTurn.objects.create(call=call, index=0, role="agent", text="Hello from Acme.", llm_first_token_ms=310)
    TranscriptTurn.objects.create(call=call, index=1, role="contact", text="Call me on +1 202 555 0188.")
    response = supervisor_client.get(f"/live/calls/{call.pk}/")
    assert response.status_code == 200
    state = response.context["call"]
    assert [t["text"] for t in state["turns"]] == ["Hello from Acme.", "Call me on +***0188."]
    assert state["turns"][0]["latency_ms"] == {"llm_first_token": 310}
    assert state["phone"] == "+***0143"
    assert b"5550143" not in response.content
    assert b"5550188" not in response.content
    assert b'id="steer"' in response.content


def test_a_user_without_the_live_permission_gets_a_403_page(operator_client, call):
    for url in ("/live/", f"/live/calls/{call.pk}/"):
        response = operator_client.get(url)
        assert response.status_code == 403
        assert b"supervisor role" in response.content


def test_anonymous_visitors_are_sent_to_log_in(client, call):
    response = client.get("/live/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_a_whisper_is_audited_and_sent_to_the_calls_conversation(supervisor_client, supervisor, call, in_memory_layer,
                                                                 django_capture_on_commit_callbacks):  # fmt: skip
    layer = get_channel_layer()
    conversation = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(call_group(call.pk), conversation)
    with django_capture_on_commit_callbacks(execute=True):
        response = supervisor_client.post(f"/live/calls/{call.pk}/steer/whisper/", {"text": "Offer the plan."})
    assert response.json() == {"message": "Whispered to the agent."}
    message = async_to_sync(layer.receive)(conversation)
    assert message == {"type": STEER_MESSAGE_TYPE, "action": "whisper", "text": "Offer the plan.", "by": "sam"}
    audit = OperatorAction.objects.get()
    assert (audit.actor, audit.action, audit.target_type, audit.target_id) == (
        supervisor,
        "live_whisper",
        "calls.Call",
        str(call.pk),
    )
    assert audit.details == {"text": "Offer the plan."}
    assert CallEvent.objects.get(call=call, kind="system").payload["steer"] == "live_whisper"


def test_do_not_call_suppresses_the_number_while_the_call_is_up(supervisor_client, call):
    response = supervisor_client.post(f"/live/calls/{call.pk}/steer/do_not_call/")
    assert response.status_code == 200
    assert Suppression.objects.active().filter(phone=call.to_phone).exists()
    assert OperatorAction.objects.filter(action="live_do_not_call", target_id=str(call.pk)).exists()
    assert Call.objects.get(pk=call.pk).status == "queued"  # the call itself goes on


def test_hanging_up_is_audited_and_marks_the_outcome(supervisor_client, call):
    response = supervisor_client.post(f"/live/calls/{call.pk}/steer/hang_up/")
    assert response.json() == {"message": "Hanging up."}
    assert OperatorAction.objects.filter(action="live_hang_up", target_id=str(call.pk)).exists()
    assert Call.objects.get(pk=call.pk).outcome == "hung_up_by_supervisor"


def test_a_transfer_to_a_bad_number_is_refused_in_words(supervisor_client, call):
    response = supervisor_client.post(f"/live/calls/{call.pk}/steer/transfer/", {"to": "not a number"})
    assert response.status_code == 400
    assert response.json()["error"].startswith("Cannot transfer to 'not a number'")
    assert not OperatorAction.objects.exists()


def test_a_finished_call_cannot_be_steered(supervisor_client, call):
    Call.objects.filter(pk=call.pk).update(status="completed", ended_at=timezone.now())
    response = supervisor_client.post(f"/live/calls/{call.pk}/steer/whisper/", {"text": "Hi"})
    assert response.status_code == 400
    assert response.json() == {"error": "This call has ended: there is nothing left to steer."}
    assert supervisor_client.get(f"/live/calls/{call.pk}/").status_code == 200  # still readable


def test_steering_without_the_permission_is_refused_and_nothing_is_done(operator_client, call):
    response = operator_client.post(f"/live/calls/{call.pk}/steer/do_not_call/")
    assert response.status_code == 403
    assert not Suppression.objects.exists()
    assert not OperatorAction.objects.exists()


def test_steering_needs_the_csrf_token(supervisor, call):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(supervisor)
    assert client.post(f"/live/calls/{call.pk}/steer/hang_up/").status_code == 403
    assert not OperatorAction.objects.exists()


def test_taking_over_and_handing_back_are_audited_and_sent_to_the_conversation(
    supervisor_client, call, django_capture_on_commit_callbacks, in_memory_layer
):
    layer = get_channel_layer()
    conversation = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(call_group(call.pk), conversation)
    for action in ("take_over", "hand_back"):
        with django_capture_on_commit_callbacks(execute=True):
            assert supervisor_client.post(f"/live/calls/{call.pk}/steer/{action}/").status_code == 200
        assert async_to_sync(layer.receive)(conversation) == {"type": STEER_MESSAGE_TYPE, "action": action, "by": "sam"}
    assert list(OperatorAction.objects.order_by("id").values_list("action", flat=True)) == [
        "live_take_over", "live_hand_back"
    ]  # fmt: skip


def test_a_transfer_dials_the_person_on_the_live_call_through_twilio(supervisor_client, call, twilio_settings,
                                                                     fake_twilio):  # fmt: skip
    Call.objects.filter(pk=call.pk).update(status="in_progress", provider_call_id="CA" + "2" * 32,
                                           from_phone="+12025550100")  # fmt: skip
    response = supervisor_client.post(f"/live/calls/{call.pk}/steer/transfer/", {"to": "(202) 555-0199"})
    assert response.json() == {"message": "Transferring."}
    twiml = fake_twilio.requests[0].value("Twiml")
    assert '<Dial callerId="+12025550100">+12025550199</Dial>' in twiml
    assert Call.objects.get(pk=call.pk).outcome == "transferred"
    assert OperatorAction.objects.get(action="live_transfer").details == {"to": "+***0199"}


def test_a_transfer_the_carrier_refuses_is_said_in_words_and_not_audited(supervisor_client, call, twilio_settings,
                                                                         fake_twilio):  # fmt: skip
    Call.objects.filter(pk=call.pk).update(status="in_progress", provider_call_id="CA" + "3" * 32)
    fake_twilio.error(400, 21220, "Call is not in-progress. Cannot redirect.")
    response = supervisor_client.post(f"/live/calls/{call.pk}/steer/transfer/", {"to": "+12025550199"})
    assert response.status_code == 400
    assert response.json()["error"].startswith("The carrier refused the transfer: ")
    assert not OperatorAction.objects.exists()
