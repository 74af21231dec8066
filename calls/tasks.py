"""Celery tasks of calls: thin, idempotent, by id (the services do the work)."""

import uuid

from celery import shared_task
from django.utils import timezone

from calls.selectors import stale_calls
from calls.services import call_hang_up, call_place, call_reap


@shared_task(name="calls.place_call", acks_late=True)
def place_call(call_id: str) -> None:
    """Place queued call `call_id` with the active carrier. Never retried: a lost answer may be a live call.

    Idempotent: the service claims the call (queued → initiated) before any provider request.
    """
    call_place(call_id=uuid.UUID(call_id))


@shared_task(name="calls.hang_up_call")
def hang_up_call(call_id: str) -> None:
    call_hang_up(call_id=uuid.UUID(call_id))


@shared_task(name="calls.reap_stale_calls")
def reap_stale_calls(limit: int = 200) -> int:
    """Close calls open longer than they can be, from the carrier's account of them; returns how many."""
    return sum(call_reap(call_id=call.pk) for call in stale_calls(now=timezone.now(), limit=limit))
