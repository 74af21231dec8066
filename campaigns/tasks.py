"""Celery interfaces of the dialer: each takes ids, calls one service, and is safe to run twice."""

from celery import shared_task


@shared_task(name="campaigns.dispatch_due", ignore_result=True, soft_time_limit=30, time_limit=60)
def dispatch_due() -> None:
    """Beat's dialer tick (every DIALER_TICK_SECONDS)."""
    from campaigns.services import dispatch_due as dispatch_due_service

    dispatch_due_service()


@shared_task(name="campaigns.settle_target", ignore_result=True)
def settle_target(call_id: str) -> None:
    """Apply a finished call to its target (retry, done, exhausted); a no-op when already settled."""
    from campaigns.services import target_settle

    target_settle(call_id=call_id)
