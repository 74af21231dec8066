"""Celery tasks of calls: thin, idempotent, by id (the services do the work)."""

import uuid

from celery import Task, shared_task

from calls.services import (
    call_hang_up,
    call_place,
    call_recording_fetch,
    calls_purge_expired,
    calls_reap,
    recordings_delete,
)
from voice.providers.base import ProviderError


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


@shared_task(name="calls.fetch_recording", bind=True, acks_late=True, max_retries=5)
def fetch_recording(self: Task, call_id: str) -> None:
    """Copy a call's recording from the carrier to storage (once); a carrier that fails for now is asked again
    later (Twilio may announce a recording a moment before it can be fetched)."""
    try:
        call_recording_fetch(call_id=uuid.UUID(call_id))
    except ProviderError as error:
        raise self.retry(exc=error, countdown=30 * (self.request.retries + 1)) from error


@shared_task(name="calls.delete_recordings", bind=True, acks_late=True, max_retries=5)
def delete_recordings(self: Task, items: list[dict[str, str]]) -> None:
    """Delete recordings here and at the carrier (after an erasure or a retention purge)."""
    try:
        recordings_delete(items=items)
    except ProviderError as error:
        raise self.retry(exc=error, countdown=60 * (self.request.retries + 1)) from error


@shared_task(name="calls.purge_expired", ignore_result=True)
def purge_expired() -> dict[str, int]:
    """Beat's retention sweep: recordings, transcripts and events of calls older than RETENTION_DAYS."""
    return calls_purge_expired()
