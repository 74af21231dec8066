"""Outbound webhooks: raise an event (one delivery per subscription that wants it), deliver it signed with
retries (exponential backoff with jitter), pause a subscription after too many straight failures, resend by hand.

A delivery is a row before it is a request: the worker that attempts it claims the attempt with a
conditional UPDATE, logs every attempt, and a 2xx ends it. A receiver may still see a delivery twice (an
answer lost on the way back); the envelope's `id` is the same each time, for it to drop the repeat.
"""

import datetime
import json
import logging
import random
import secrets
import time
import uuid

import httpx
from celery import signature
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from campaigns.integrations.models import WebhookAttempt, WebhookDelivery, WebhookEvent, WebhookSubscription
from campaigns.integrations.signing import SIGNATURE_HEADER, sign
from campaigns.integrations.webhook_urls import DeliveryTarget, UnsafeWebhookURL, delivery_target

logger = logging.getLogger(__name__)
DELIVER_TASK = "campaigns.deliver_webhook"
USER_AGENT = "Callwright-Webhooks/1"


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def retry_delay(attempt: int) -> float:
    """Seconds before the attempt after failed attempt number `attempt` (1-based): WEBHOOK_RETRY_BASE_SECONDS
    doubled each time, capped at WEBHOOK_RETRY_MAX_SECONDS, then a random half of it shaved off, so that
    many deliveries failing together (a receiver down) do not all come back at the same moment."""
    backoff = min(settings.WEBHOOK_RETRY_MAX_SECONDS, settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** (attempt - 1))
    return backoff * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not a secret


def _enqueue(delivery_id: uuid.UUID, *, countdown: float = 0) -> None:
    task = signature(DELIVER_TASK, args=(str(delivery_id),))
    transaction.on_commit(lambda: task.apply_async(countdown=countdown or None))


def webhook_subscriptions_for(event: str) -> list[WebhookSubscription]:
    """The active subscriptions that want `event` (one small query: a handful of subscriptions at most)."""
    return [s for s in WebhookSubscription.objects.filter(is_active=True) if event in s.events]


def webhook_event_raise(
    *,
    event: str,
    key: str,
    data: dict[str, object],
    subscriptions: list[WebhookSubscription] | None = None,
) -> list[WebhookDelivery]:
    """Queue `event` (about `key`, e.g. a call's id) for every active subscription that wants it; return the
    new deliveries. Raising the same event about the same key again adds nothing (a hook run twice).
    `subscriptions`: those `webhook_subscriptions_for(event)` already found, so the caller could skip building
    `data` when there are none."""
    WebhookEvent(event)  # an unknown name fails here, not at a receiver
    envelope = {
        "id": str(uuid.uuid4()),
        "type": event,
        "created_at": timezone.now().isoformat(),
        "data": json.loads(json.dumps(data, cls=DjangoJSONEncoder)),
    }
    created = []
    for subscription in webhook_subscriptions_for(event) if subscriptions is None else subscriptions:
        try:
            with transaction.atomic():
                delivery = WebhookDelivery.objects.create(
                    subscription=subscription, event=event, event_key=key[:100], payload=envelope
                )
        except IntegrityError:
            continue
        created.append(delivery)
        _enqueue(delivery.pk)
    return created


def webhook_deliver(*, delivery_id: uuid.UUID | str) -> WebhookDelivery | None:
    """Make one attempt of a pending delivery; None when there is nothing to do (delivered, given up, its
    subscription paused or inactive, or another worker holds this attempt). On failure, the next attempt
    is queued after `retry_delay`, until WEBHOOK_MAX_ATTEMPTS; a subscription failing
    WEBHOOK_PAUSE_AFTER_FAILURES times in a row is paused."""
    delivery = WebhookDelivery.objects.select_related("subscription").filter(pk=delivery_id).first()
    if delivery is None or delivery.status != WebhookDelivery.Status.PENDING:
        return None
    subscription = delivery.subscription
    if not subscription.is_active or subscription.paused_at is not None:
        return None  # stays pending; resuming the subscription queues it again
    number = delivery.attempts + 1
    claimed = WebhookDelivery.objects.filter(
        pk=delivery.pk, status=WebhookDelivery.Status.PENDING, attempts=delivery.attempts
    ).update(attempts=number, next_attempt_at=None)
    if not claimed:
        return None
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    status_code, error, excerpt, started = None, "", "", time.monotonic()
    try:
        # Resolved and checked now, whatever was checked at save: DNS may point the name elsewhere since.
        target = delivery_target(subscription.url)
    except UnsafeWebhookURL as refusal:
        target, error = None, f"Refused: {refusal}"[:500]
        logger.warning("webhook delivery %s to subscription %s refused: %s", delivery.pk, subscription.pk, refusal)
    if target is not None:
        status_code, error, excerpt = _post(target, body, delivery, subscription.secret)
    WebhookAttempt.objects.create(
        delivery=delivery, number=number, status_code=status_code, error=error, response_excerpt=excerpt,
        duration_ms=int((time.monotonic() - started) * 1000),
    )  # fmt: skip
    now = timezone.now()
    if status_code is not None and 200 <= status_code < 300:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(status=WebhookDelivery.Status.DELIVERED, delivered_at=now)
        WebhookSubscription.objects.filter(pk=subscription.pk).update(consecutive_failures=0)
    else:
        _failed(delivery, subscription, number, now, why=f"HTTP {status_code}" if status_code else error)
    delivery.refresh_from_db()
    return delivery


def _post(target: DeliveryTarget, body: bytes, delivery: WebhookDelivery, secret: str) -> tuple[int | None, str, str]:
    """POST the signed body to the checked address; (status code, error, excerpt of the answer)."""
    headers = {
        **target.headers,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Callwright-Event": delivery.event,
        "Callwright-Delivery": str(delivery.pk),
        SIGNATURE_HEADER: sign(secret=secret, timestamp=int(time.time()), body=body),
    }
    try:
        with httpx.Client(timeout=settings.WEBHOOK_TIMEOUT_SECONDS, follow_redirects=False) as client:
            request = client.build_request("POST", target.url, content=body, headers=headers,
                                           extensions=target.extensions)  # fmt: skip
            response = client.send(request)
            return response.status_code, "", response.text[:500]
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500], ""


def _failed(
    delivery: WebhookDelivery, subscription: WebhookSubscription, number: int, now: datetime.datetime, *, why: str
) -> None:
    WebhookSubscription.objects.filter(pk=subscription.pk).update(consecutive_failures=F("consecutive_failures") + 1)
    failures = WebhookSubscription.objects.values_list("consecutive_failures", flat=True).get(pk=subscription.pk)
    if failures >= settings.WEBHOOK_PAUSE_AFTER_FAILURES:
        paused = WebhookSubscription.objects.filter(pk=subscription.pk, paused_at__isnull=True).update(
            paused_at=now, paused_reason=f"{failures} deliveries failed in a row; the last: {why}"[:255]
        )
        if paused:
            logger.warning("webhook subscription %s paused after %s straight failures", subscription.pk, failures)
    if number >= settings.WEBHOOK_MAX_ATTEMPTS:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(status=WebhookDelivery.Status.FAILED)
        return
    delay = retry_delay(number)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=now + datetime.timedelta(seconds=delay))
    _enqueue(delivery.pk, countdown=delay)


def webhook_delivery_resend(*, delivery_id: uuid.UUID | str) -> bool:
    """Send a delivery again by hand (delivered or given up): one more attempt, now, with the same envelope."""
    reopened = WebhookDelivery.objects.filter(pk=delivery_id).update(
        status=WebhookDelivery.Status.PENDING, next_attempt_at=None, delivered_at=None
    )
    if reopened:
        _enqueue(uuid.UUID(str(delivery_id)))
    return bool(reopened)


def webhook_subscription_resume(*, subscription_id: int) -> int:
    """Deliver to a paused subscription again: its failure count restarts and its pending deliveries are
    queued now. Returns how many were queued."""
    WebhookSubscription.objects.filter(pk=subscription_id).update(
        paused_at=None, paused_reason="", consecutive_failures=0
    )
    pending = list(
        WebhookDelivery.objects.filter(
            subscription_id=subscription_id, status=WebhookDelivery.Status.PENDING
        ).values_list("pk", flat=True)
    )
    for delivery_id in pending:
        _enqueue(delivery_id)
    return len(pending)
