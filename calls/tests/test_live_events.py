"""The live feed: every status change and the AMD verdict reach the board, with the number masked."""

import asyncio
import json

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from calls.live_events import LIVE_CALLS_GROUP
from calls.models import Call, CallStatus
from calls.services import call_record_amd, call_record_status, call_transition

pytestmark = pytest.mark.django_db


@pytest.fixture
def board(in_memory_layer):
    """A channel in the live board's group, as a board consumer would be."""
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(LIVE_CALLS_GROUP, channel)

    def receive() -> dict:
        return async_to_sync(layer.receive)(channel)["event"]

    return receive


def test_each_status_change_reaches_the_board_the_first_as_a_masked_snapshot(
    board, call, django_capture_on_commit_callbacks
):
    events = []
    for status in (CallStatus.INITIATED, CallStatus.RINGING, CallStatus.IN_PROGRESS, CallStatus.COMPLETED):
        with django_capture_on_commit_callbacks(execute=True):
            assert call_transition(call_id=call.pk, status=status)
        events.append(board())
    first, ringing, answered, ended = events
    assert (first["call"], first["kind"], first["status"]) == (str(call.pk), "status", "initiated")
    assert (first["phone"], first["campaign"], first["agent"]) == ("+***0143", call.campaign_id, call.agent_id)
    assert first["started_at"] is not None
    assert ringing == {"call": str(call.pk), "kind": "status", "status": "ringing"}  # no read for a later move
    assert set(answered) == {"call", "kind", "status", "answered_at"}
    assert (ended["status"], set(ended)) == ("completed", {"call", "kind", "status", "ended_at"})
    assert "5550143" not in json.dumps(events)


def test_the_carriers_own_initiated_is_republished_though_the_worker_moved_the_call(
    board, call, django_capture_on_commit_callbacks
):
    call_transition(call_id=call.pk, status=CallStatus.INITIATED)  # in the worker: its layer is another process's
    with django_capture_on_commit_callbacks(execute=True):
        call_record_status(call_id=call.pk, call_sid="CA1", status=CallStatus.INITIATED,
                           provider_event_id="initiated:0", payload={})  # fmt: skip
    assert board()["status"] == "initiated"


def test_the_amd_verdict_reaches_the_board(board, call, django_capture_on_commit_callbacks):
    call_transition(call_id=call.pk, status=CallStatus.IN_PROGRESS)
    with django_capture_on_commit_callbacks(execute=True):
        call_record_amd(call_id=call.pk, call_sid="CA1", answered_by="machine_end_beep", payload={})
    event = board()
    assert (event["kind"], event["answered_by"], event["status"]) == ("amd", "machine_end_beep", "in_progress")
    assert event["phone"] == "+***0143"


def test_the_supervisor_group_holds_read_access_and_exactly_the_live_permissions(supervisor_group):
    held = set(supervisor_group.permissions.values_list("content_type__app_label", "codename"))
    live = {("calls", "view_live_calls"), ("calls", "listen_live_calls"), ("calls", "steer_live_calls")}
    assert live | {("calls", "view_call"), ("campaigns", "view_campaign"), ("contacts", "view_contact")} <= held
    assert not any(codename.startswith(("add_", "change_", "delete_")) for _, codename in held)
    custom = {("calls", codename) for codename, _ in Call._meta.permissions}
    assert custom & held == live | {("calls", "listen_to_recording")}


def test_migrating_creates_the_supervisor_group():
    from django.contrib.auth.models import Group

    assert Group.objects.get(name="supervisor").permissions.filter(codename="steer_live_calls").exists()


@pytest.mark.asyncio
async def test_the_servers_sync_code_publishes_in_order_without_waiting_for_the_layer(in_memory_layer):
    from calls import live_events

    layer = get_channel_layer()
    board = await layer.new_channel()
    await layer.group_add(LIVE_CALLS_GROUP, board)
    live_events.serve_live_events_on(asyncio.get_running_loop())
    try:
        for status in ("ringing", "in_progress", "completed"):  # a status webhook's thread, after commit
            await asyncio.to_thread(live_events.publish_call_event, "c1", {"kind": "status", "status": status})
        received = [(await layer.receive(board))["event"]["status"] for _ in range(3)]
    finally:
        live_events.serve_live_events_on(None)
    assert received == ["ringing", "in_progress", "completed"]
