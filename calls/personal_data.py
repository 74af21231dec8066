"""What calls holds about a person, given to contacts' access request and erasure (contacts/personal_data.py)."""

import datetime

from django.db import transaction

from calls.models import Call, CallEvent, TranscriptTurn
from calls.services.recordings import recordings_delete_on_commit, recordings_detach
from contacts.models import Contact
from contacts.personal_data import PersonalDataHolder


def _iso(value: datetime.datetime | None) -> str | None:
    return value.isoformat() if value else None


def contact_calls_export(contact: Contact) -> list[dict[str, object]]:
    """The person's calls, oldest first, each with its transcript."""
    return [
        {
            "id": str(call.id),
            "campaign": call.campaign_id,
            "direction": call.direction,
            "to_phone": call.to_phone,
            "from_phone": call.from_phone,
            "status": call.status,
            "created_at": _iso(call.created_at),
            "answered_at": _iso(call.answered_at),
            "ended_at": _iso(call.ended_at),
            "duration_seconds": call.duration_seconds,
            "recording_url": call.recording_url,
            "outcome": call.outcome,
            "summary": call.summary,
            "extracted_data": call.extracted_data,
            "transcript": [
                {"index": turn.index, "role": turn.role, "text": turn.text, "started_at": _iso(turn.started_at)}
                for turn in call.turns.all()
            ],
        }
        for call in Call.objects.filter(contact=contact).order_by("created_at").prefetch_related("turns")
    ]


@transaction.atomic
def contact_calls_erase(contact: Contact) -> int:
    """Anonymise the person's calls (the rows stay, for the campaign's counts) and delete their recordings, here
    and at the carrier; returns how many calls."""
    calls = Call.objects.filter(contact=contact)
    # The recordings: forgotten here now, their files and the carrier's copies deleted once this commits.
    recordings_delete_on_commit(recordings_detach(calls))
    TranscriptTurn.objects.filter(call__in=calls).delete()
    CallEvent.objects.filter(call__in=calls).update(payload={})
    return calls.update(to_phone="", recording_url="", summary="", extracted_data={}, sentiment="")


CALLS_PERSONAL_DATA = PersonalDataHolder(section="calls", export=contact_calls_export, erase=contact_calls_erase)
