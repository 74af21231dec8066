"""Celery interfaces of the dialer: each takes ids, calls one service, and is safe to run twice."""

import logging

from celery import shared_task

from campaigns.integrations.idempotency import idempotency_records_purge
from campaigns.integrations.webhooks import DELIVER_TASK, webhook_deliver
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
