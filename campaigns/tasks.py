"""Celery interfaces of the dialer: each takes ids, calls one service, and is safe to run twice."""

import logging

from celery import shared_task
from django.conf import settings

from calls.services import call_cost_update
from campaigns.analysis import ConversationNotRecorded, call_analyse, calls_analysis_stalled
from campaigns.integrations.idempotency import idempotency_records_purge
from campaigns.integrations.webhooks import DELIVER_TASK, webhook_deliver
from campaigns.reports.build import campaign_report_build
from campaigns.services import campaigns_dispatch_due, target_settle, targets_settle_stragglers

logger = logging.getLogger(__name__)


@shared_task(name="campaigns.dispatch_due", ignore_result=True, soft_time_limit=30, time_limit=60)
def dispatch_due() -> None:
    """Beat's dialer tick (every DIALER_TICK_SECONDS)."""
    campaigns_dispatch_due()


@shared_task(name="campaigns.settle_targets", ignore_result=True)
def settle_targets(call_ids: list[str]) -> None:
    """Apply finished calls to their targets (retry, done, exhausted); each a no-op when already settled.

    Each call is settled in its own transaction, so one that fails does not hold back the others; the
    failure is logged and the straggler sweep tries that target again.
    """
    for call_id in call_ids:
        try:
            target_settle(call_id=call_id)
        except Exception:
            logger.exception("settling the target of call %s failed; the sweep will retry it", call_id)


@shared_task(name="campaigns.settle_target", ignore_result=True)
def settle_target(call_id: str) -> None:
    """One call's settlement: what earlier versions queued (messages may still be waiting in the broker)."""
    settle_targets([call_id])


@shared_task(name="campaigns.settle_stragglers", ignore_result=True, soft_time_limit=50, time_limit=60)
def settle_stragglers() -> int:
    """Beat's sweep: settle targets whose call ended but whose settlement never ran; returns how many."""
    return targets_settle_stragglers()


@shared_task(name="campaigns.purge_idempotency_keys", ignore_result=True)
def purge_idempotency_keys() -> int:
    """Beat's sweep: forget API idempotency keys past IDEMPOTENCY_KEY_TTL_HOURS; returns how many."""
    return idempotency_records_purge()


@shared_task(name=DELIVER_TASK, ignore_result=True)
def deliver_webhook(delivery_id: str) -> None:
    """One attempt of an outbound webhook delivery (a no-op when it is delivered or held by another worker)."""
    webhook_deliver(delivery_id=delivery_id)


@shared_task(name="campaigns.analyse_calls", ignore_result=True, acks_late=True, soft_time_limit=600, time_limit=660)
def analyse_calls(call_ids: list[str], attempt_round: int = 0) -> None:
    """After-call work of finished calls: the post-call analysis (each claimed once: a call already analysed is
    a no-op; off with ANALYSIS_ENABLED=False), then the cost (recomputed, with the analysis's tokens). A call
    whose conversation is still recording its end is asked about again 3 s later (at most 10 rounds, then
    analysed as it is). One call that fails is logged and the others go on."""
    later = []
    for call_id in call_ids:
        try:
            if settings.ANALYSIS_ENABLED:
                call_analyse(call_id=call_id, wait_for_conversation=attempt_round < ANALYSIS_ROUNDS)
            call_cost_update(call_id=call_id)
        except ConversationNotRecorded:
            later.append(call_id)
        except Exception:
            logger.exception("the after-call work of call %s failed", call_id)
    if later:
        analyse_calls.apply_async(args=(later,), kwargs={"attempt_round": attempt_round + 1}, countdown=3)


ANALYSIS_ROUNDS = 10
ANALYSES_PER_TASK = 4  # as the batcher's: each analysis may wait up to 2 x ANALYSIS_TIMEOUT_SECONDS on the model


@shared_task(name="campaigns.resume_stalled_analyses", ignore_result=True, soft_time_limit=50, time_limit=60)
def resume_stalled_analyses() -> int:
    """Beat's sweep: queue again the after-call work of calls whose analysis was never queued (the broker was
    down as the call ended) or whose worker died mid-analysis; returns how many calls it queued."""
    if not settings.ANALYSIS_ENABLED:
        return 0
    call_ids = [str(call_id) for call_id in calls_analysis_stalled()]
    for start in range(0, len(call_ids), ANALYSES_PER_TASK):
        analyse_calls.delay(call_ids[start : start + ANALYSES_PER_TASK])
    if call_ids:
        logger.warning("queued again the analysis of %d calls whose analysis had stalled", len(call_ids))
    return len(call_ids)


@shared_task(name="campaigns.build_report", ignore_result=True, acks_late=True, soft_time_limit=1800, time_limit=1900)
def build_report(report_id: int) -> None:
    """Build a requested campaign report (a no-op when it is built or being built)."""
    campaign_report_build(report_id=report_id)
