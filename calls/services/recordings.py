"""Recordings and retention: a call's recording fetched from the carrier into the project's storage, deleted at
the carrier and here when the person is erased, and every call's recording, transcript and events purged once
older than RETENTION_DAYS (audited).

Storage is Django's default storage: local files under MEDIA_ROOT unless settings choose S3-compatible storage
(django-storages, `RECORDINGS_S3_BUCKET`). Nothing here is served as it is: the admin plays a recording through
an authenticated view.
"""

import datetime
import logging
import tempfile
import uuid
from collections.abc import Iterable

from celery import signature
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from calls.models import Call, CallEvent, RecordingStatus, TranscriptTurn
from voice.providers.base import ProviderError

logger = logging.getLogger(__name__)
PURGE_BATCH = 500


def call_recording_fetch(*, call_id: uuid.UUID | str) -> str:
    """Copy the call's recording from the carrier to storage once; returns the recording's status afterwards.

    A transient carrier failure raises ProviderError (the task retries); a permanent one is recorded as failed.
    """
    call = Call.objects.filter(pk=call_id).first()
    if call is None or not call.recording_url or call.recording_status != RecordingStatus.NONE:
        return call.recording_status if call is not None else ""
    from voice.providers.selection import telephony

    with tempfile.TemporaryFile() as buffer:
        try:
            extension = telephony().download_recording(call.recording_url, buffer)
        except ProviderError as error:
            if not error.permanent:
                raise
            Call.objects.filter(pk=call.pk, recording_status=RecordingStatus.NONE).update(
                recording_status=RecordingStatus.FAILED, recording_error=error.message[:255]
            )
            return RecordingStatus.FAILED
        buffer.seek(0)
        name = default_storage.save(f"recordings/{timezone.now():%Y/%m}/{call.pk}.{extension}", File(buffer))
    stored = Call.objects.filter(pk=call.pk, recording_status=RecordingStatus.NONE).update(
        recording_file=name, recording_status=RecordingStatus.STORED, recording_error=""
    )
    if not stored:  # erased or fetched meanwhile: keep nothing of it
        default_storage.delete(name)
    return RecordingStatus.STORED if stored else Call.objects.get(pk=call.pk).recording_status


def recordings_detach(calls: QuerySet[Call]) -> list[dict[str, str]]:
    """Forget the recordings of `calls` here (inside the caller's transaction) and return what must be deleted
    once it commits: each recording's carrier, sid and stored file (`recordings_delete_on_commit`)."""
    with_recording = calls.filter(~Q(recording_url="") | ~Q(recording_file="") | ~Q(recording_sid=""))
    items = [
        {"provider": provider, "sid": sid, "file": file_name or ""}
        for provider, sid, file_name in with_recording.values_list("provider", "recording_sid", "recording_file")
    ]
    with_recording.update(
        recording_url="", recording_sid="", recording_file="", recording_status=RecordingStatus.DELETED
    )
    return items


def recordings_delete_on_commit(items: list[dict[str, str]]) -> None:
    if items:
        transaction.on_commit(signature("calls.delete_recordings", args=(items,)).delay)


def recordings_delete(*, items: Iterable[dict[str, str]]) -> int:
    """Delete each recording's stored file and its copy at the carrier; returns how many were deleted at the
    carrier. A transient carrier failure raises after the files are gone (the task retries: deleting twice is
    harmless)."""
    from voice.providers.selection import telephony

    items = list(items)
    for item in items:
        if item.get("file"):
            default_storage.delete(item["file"])
    deleted, failure = 0, None
    for item in items:
        if not item.get("sid") or item.get("provider") != settings.TELEPHONY_PROVIDER:
            continue
        try:
            telephony().delete_recording(item["sid"])
            deleted += 1
        except ProviderError as error:
            logger.warning("recording %s not deleted at %s: %s", item["sid"], item["provider"], error.message)
            if not error.permanent:
                failure = error
    if failure is not None:
        raise failure
    return deleted


def calls_purge_expired(*, now: datetime.datetime | None = None) -> dict[str, int]:
    """Purge recordings, transcripts and provider events of calls that ended over RETENTION_DAYS ago (0: keep
    everything); the calls themselves stay, with their outcome, summary and extracted fields, for the counts.
    Each purge that removed anything is written to the operators' audit log."""
    days = int(settings.RETENTION_DAYS)
    totals = {"calls": 0, "recordings": 0, "transcript_turns": 0, "events": 0}
    if days <= 0:
        return totals
    cutoff = (now or timezone.now()) - datetime.timedelta(days=days)
    has_data = (
        Exists(TranscriptTurn.objects.filter(call=OuterRef("pk")))
        | Exists(CallEvent.objects.filter(call=OuterRef("pk")))
        | ~Q(recording_url="")
        | ~Q(recording_file="")
    )
    while True:
        ids = list(Call.objects.filter(has_data, ended_at__lt=cutoff).values_list("pk", flat=True)[:PURGE_BATCH])
        if not ids:
            break
        with transaction.atomic():
            batch = Call.objects.filter(pk__in=ids)
            items = recordings_detach(batch)
            recordings_delete_on_commit(items)
            totals["recordings"] += len(items)
            totals["transcript_turns"] += TranscriptTurn.objects.filter(call_id__in=ids).delete()[0]
            totals["events"] += CallEvent.objects.filter(call_id__in=ids).delete()[0]
            totals["calls"] += len(ids)
    if totals["calls"]:
        from contacts.models import OperatorAction
        from contacts.services import operator_action_record

        details = {"retention_days": days, "ended_before": cutoff.isoformat(), **totals}
        operator_action_record(actor=None, action=OperatorAction.Action.RETENTION_PURGE, target=Call(), details=details)
        logger.info("retention purge: %s", totals)
    return totals
