"""A call's post-call analysis as conditional UPDATEs: claimed once, then done, failed or skipped.

The analysis itself (which model, which schema, what the disposition leads to) belongs to the app that owns
agents and campaigns; calls only keeps its result on the Call. Claiming is what makes the task idempotent: a
second run finds the call claimed or finished and does nothing; a claim older than `stale_after` (a worker
killed mid-request) may be taken again.
"""

import datetime
import uuid
from collections.abc import Mapping

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from calls.hooks import notify_call_event_on_commit
from calls.models import AnalysisStatus, Call

STALE_CLAIM = datetime.timedelta(minutes=15)


def call_analysis_claim(*, call_id: uuid.UUID | str, now: datetime.datetime | None = None) -> bool:
    """Take the call's analysis for this run; False when it is done, failed, skipped or being run elsewhere."""
    now = now or timezone.now()
    claimable = Q(analysis_status=AnalysisStatus.NOT_REQUESTED) | Q(
        analysis_status=AnalysisStatus.RUNNING, analysis_started_at__lt=now - STALE_CLAIM
    )
    return (
        Call.objects.filter(claimable, pk=call_id).update(
            analysis_status=AnalysisStatus.RUNNING, analysis_started_at=now, analysis_error="", analysis_attempts=0
        )
        == 1
    )


def _add_tokens(usage: Mapping[str, object], prompt_tokens: int, completion_tokens: int) -> dict[str, object]:
    merged = dict(usage or {})
    merged["analysis_prompt_tokens"] = int(merged.get("analysis_prompt_tokens") or 0) + prompt_tokens
    merged["analysis_completion_tokens"] = int(merged.get("analysis_completion_tokens") or 0) + completion_tokens
    return merged


@transaction.atomic
def call_analysis_record(
    *,
    call_id: uuid.UUID | str,
    summary: str,
    sentiment: str,
    disposition: str,
    data: Mapping[str, object],
    attempts: int,
    model: str,
    prompt_tokens: int = 0,
    completion_tokens: int = 0,
) -> bool:
    """Store a valid analysis on a claimed call; False (nothing written) unless this run holds the claim.
    Once stored, the call's "analyzed" event is raised after the commit (calls.hooks).

    The extracted data is the analysis's fields with the values the agent recorded during the call on top:
    those were checked against the same schema and confirmed with the callee.
    """
    call = (
        Call.objects.select_for_update()
        .only("extracted_data", "usage")
        .filter(pk=call_id, analysis_status=AnalysisStatus.RUNNING)
        .first()
    )
    if call is None:
        return False
    in_call = call.extracted_data if isinstance(call.extracted_data, dict) else {}
    stored = (
        Call.objects.filter(pk=call_id, analysis_status=AnalysisStatus.RUNNING).update(
            analysis_status=AnalysisStatus.DONE,
            summary=summary,
            sentiment=sentiment,
            disposition=disposition,
            extracted_data={**data, **in_call},
            analysis_attempts=attempts,
            analysis_model=model[:64],
            analyzed_at=timezone.now(),
            usage=_add_tokens(call.usage, prompt_tokens, completion_tokens),
        )
        == 1
    )
    if stored:  # outbound webhooks' call.analyzed: the summary and extracted fields are ready
        notify_call_event_on_commit(call.pk, "analyzed")
    return stored


def call_analysis_fail(
    *, call_id: uuid.UUID | str, reason: str, attempts: int, model: str = "", prompt_tokens: int = 0,
    completion_tokens: int = 0,
) -> bool:  # fmt: skip
    """Record that the analysis failed, with the reason in words (the tokens spent still count)."""
    with transaction.atomic():
        usage = Call.objects.filter(pk=call_id).values_list("usage", flat=True).first() or {}
        return (
            Call.objects.filter(pk=call_id, analysis_status=AnalysisStatus.RUNNING).update(
                analysis_status=AnalysisStatus.FAILED,
                analysis_error=reason[:4000],
                analysis_attempts=attempts,
                analysis_model=model[:64],
                analyzed_at=timezone.now(),
                usage=_add_tokens(usage, prompt_tokens, completion_tokens),
            )
            == 1
        )


def call_analysis_skip(*, call_id: uuid.UUID | str, reason: str) -> bool:
    return (
        Call.objects.filter(pk=call_id, analysis_status=AnalysisStatus.RUNNING).update(
            analysis_status=AnalysisStatus.SKIPPED, analysis_error=reason[:4000], analyzed_at=timezone.now()
        )
        == 1
    )


def calls_analysis_reset(*, call_ids: list[uuid.UUID | str]) -> int:
    """Make finished analyses claimable again (the admin's "Analyse again"); returns how many."""
    finished = [AnalysisStatus.DONE, AnalysisStatus.FAILED, AnalysisStatus.SKIPPED]
    return Call.objects.filter(pk__in=call_ids, analysis_status__in=finished).update(
        analysis_status=AnalysisStatus.NOT_REQUESTED, analysis_started_at=None
    )
