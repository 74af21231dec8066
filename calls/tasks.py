"""Celery tasks of calls: thin, idempotent, by id (the services do the work)."""

import uuid

from celery import shared_task

from calls.services import call_hang_up, call_place, calls_reap


@shared_task(name="calls.place_call", acks_late=True)
def place_call(call_id: str) -> None:
    """Place queued call `call_id` with the active carrier. Never retried: a lost answer may be a live call.

    Idempotent: the service claims the call (queued → initiated) before any provider request.
    """
    call_place(call_id=uuid.UUID(call_id))


@shared_task(name="calls.hang_up_call")
def hang_up_call(call_id: str) -> None:
    call_hang_up(call_id=uuid.UUID(call_id))


@shared_task(name="calls.reap_stale_calls", ignore_result=True, soft_time_limit=50, time_limit=60)
def reap_stale_calls(limit: int = 200) -> int:
    """Beat's reaper pass (calls/services/reaping.py): end calls the carrier no longer carries, cancel the
    ones never handed to it; returns how many it closed."""
    return calls_reap(limit=limit)
