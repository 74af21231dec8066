import datetime

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from calls.models import TERMINAL_STATUSES, Call, CallEvent, CallStatus
from calls.services import call_transition

pytestmark = pytest.mark.django_db


def status_of(call: Call) -> str:
    return Call.objects.values_list("status", flat=True).get(pk=call.pk)


def test_a_call_moves_forward_and_records_when(call):
    assert call_transition(call_id=call.pk, status=CallStatus.INITIATED)
    assert call_transition(call_id=call.pk, status=CallStatus.RINGING)
    assert call_transition(call_id=call.pk, status=CallStatus.IN_PROGRESS)
    assert call_transition(call_id=call.pk, status=CallStatus.COMPLETED, fields={"duration_seconds": 42})
    call.refresh_from_db()
    assert call.status == CallStatus.COMPLETED
    assert call.duration_seconds == 42
    assert call.started_at <= call.answered_at <= call.ended_at


@pytest.mark.parametrize("terminal", sorted(TERMINAL_STATUSES))
@pytest.mark.parametrize("later", list(CallStatus))
def test_a_terminal_call_never_moves(call, terminal, later):
    assert call_transition(call_id=call.pk, status=terminal)
    assert not call_transition(call_id=call.pk, status=later)
    assert status_of(call) == terminal


def test_a_late_ringing_callback_does_not_move_an_answered_call_back(call):
    call_transition(call_id=call.pk, status=CallStatus.IN_PROGRESS)
    assert not call_transition(call_id=call.pk, status=CallStatus.RINGING)
    assert status_of(call) == CallStatus.IN_PROGRESS


def test_a_status_can_skip_ahead_when_callbacks_were_lost(call):
    assert call_transition(call_id=call.pk, status=CallStatus.NO_ANSWER)
    assert status_of(call) == CallStatus.NO_ANSWER


def test_an_unknown_call_moves_nothing():
    assert not call_transition(call_id="00000000-0000-0000-0000-000000000000", status=CallStatus.RINGING)


def test_the_database_refuses_a_terminal_call_without_an_end_time(call):
    with pytest.raises(IntegrityError), transaction.atomic():
        Call.objects.filter(pk=call.pk).update(status=CallStatus.COMPLETED)


def test_the_database_refuses_an_open_call_with_an_end_time(call):
    with pytest.raises(IntegrityError), transaction.atomic():
        Call.objects.filter(pk=call.pk).update(ended_at=timezone.now())


def test_the_database_refuses_an_unknown_status(call):
    with pytest.raises(IntegrityError), transaction.atomic():
        Call.objects.filter(pk=call.pk).update(status="teleported")


def test_a_replayed_provider_event_is_stored_once(call):
    CallEvent.objects.create(call=call, kind=CallEvent.Kind.STATUS, provider_event_id="ringing:1")
    with pytest.raises(IntegrityError), transaction.atomic():
        CallEvent.objects.create(call=call, kind=CallEvent.Kind.STATUS, provider_event_id="ringing:1")
    assert call.events.count() == 1


def test_two_calls_cannot_share_a_provider_call_id(call, contact):
    Call.objects.filter(pk=call.pk).update(provider_call_id="CA123")
    with pytest.raises(IntegrityError), transaction.atomic():
        Call.objects.create(contact=contact, to_phone=contact.phone, provider="simulated", provider_call_id="CA123")


def test_calls_without_a_provider_id_yet_do_not_collide(call, contact):
    Call.objects.create(contact=contact, to_phone=contact.phone, provider="simulated")
    assert Call.objects.filter(provider_call_id="").count() == 2


def test_handlers_learn_of_a_terminal_call_after_commit_and_only_once(call, django_capture_on_commit_callbacks):
    from calls import hooks

    seen = []
    hooks.register_call_finished(seen.append)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            call_transition(call_id=call.pk, status=CallStatus.BUSY)
            assert seen == []  # not before commit
            call_transition(call_id=call.pk, status=CallStatus.COMPLETED)  # ignored: already terminal
        assert seen == [call.pk]
    finally:
        hooks.unregister_call_finished(seen.append)


def test_a_failing_handler_does_not_stop_the_others(call, django_capture_on_commit_callbacks):
    from calls import hooks

    def broken(_call_id):
        raise RuntimeError("boom")

    seen = []
    hooks.register_call_finished(broken)
    hooks.register_call_finished(seen.append)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            call_transition(call_id=call.pk, status=CallStatus.FAILED)
        assert seen == [call.pk]
    finally:
        hooks.unregister_call_finished(broken)
        hooks.unregister_call_finished(seen.append)


def test_stage_times_never_run_backwards_when_a_callback_is_stamped_to_the_second(call):
    started = timezone.now().replace(microsecond=600_000)
    call_transition(call_id=call.pk, status=CallStatus.INITIATED, at=started)
    call_transition(call_id=call.pk, status=CallStatus.IN_PROGRESS, at=started.replace(microsecond=0))
    call_transition(call_id=call.pk, status=CallStatus.COMPLETED, at=started.replace(microsecond=0))
    call.refresh_from_db()
    assert call.started_at == call.answered_at == call.ended_at == started


def test_a_later_stage_time_is_kept_as_given(call):
    started = timezone.now()
    call_transition(call_id=call.pk, status=CallStatus.INITIATED, at=started)
    call_transition(call_id=call.pk, status=CallStatus.NO_ANSWER, at=started + datetime.timedelta(seconds=30))
    call.refresh_from_db()
    assert call.answered_at is None
    assert call.ended_at == started + datetime.timedelta(seconds=30)


def test_a_status_callback_that_moves_a_call_is_an_update_and_an_insert_in_one_transaction(
    call, django_assert_num_queries
):
    from calls.services import call_record_status

    Call.objects.filter(pk=call.pk).update(provider_call_id="CA" + "c" * 32)
    # The call's conditional UPDATE, then the event's insert-or-ignore: no SELECT when the call moved.
    # Inside the test's transaction the atomic block is a savepoint and its release.
    with django_assert_num_queries(4):
        outcome = call_record_status(
            call_id=call.pk,
            call_sid="CA" + "c" * 32,
            status=CallStatus.RINGING,
            provider_event_id="1:ringing",
            payload={},
        )
    assert outcome.value == "applied"
    assert Call.objects.get(pk=call.pk).status == CallStatus.RINGING
    assert list(CallEvent.objects.filter(call=call).values_list("provider_event_id", flat=True)) == ["1:ringing"]


def test_a_status_callback_for_another_call_sid_writes_nothing(call):
    from calls.services import call_record_status

    Call.objects.filter(pk=call.pk).update(provider_call_id="CA" + "c" * 32)
    outcome = call_record_status(
        call_id=call.pk, call_sid="CA" + "d" * 32, status=CallStatus.RINGING, provider_event_id="1:ringing", payload={}
    )
    assert outcome.value == "unknown_call"
    assert not CallEvent.objects.exists()
    assert Call.objects.get(pk=call.pk).status == CallStatus.QUEUED
