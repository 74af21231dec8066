"""Alert rules evaluated by beat, without Prometheus: fire once, resolve once, notify by e-mail or Slack.

`alert_rules_evaluate` (the `monitoring.evaluate_alert_rules` task, every minute) measures each enabled rule's
metric over its window. A rule whose condition starts to hold moves to firing with a conditional UPDATE
(`firing=False → True`): only the evaluation that made that change writes the `fired` event and queues its
notification, so two evaluations at once (a late tick beside the next) never notify twice. A firing rule
whose condition clears moves back the same way and sends `resolved`. No data in the window (no call ended)
changes nothing.

Notifications are a task of their own (`monitoring.send_alert_notification`), queued on commit and retried
with backoff when the SMTP server or Slack fails; each attempt is counted on the event, and its last error
kept, so the admin's history says what was delivered.
"""

import datetime
import logging

import httpx
from celery import signature
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from monitoring.metrics import AlertMetric, alert_metrics
from monitoring.models import AlertEvent, AlertRule

logger = logging.getLogger(__name__)
SLACK_TIMEOUT_SECONDS = 10.0


def describe(rule: AlertRule, metric: AlertMetric | None, value: float, kind: str) -> str:
    label = metric.label if metric else rule.metric
    state = "FIRING" if kind == AlertEvent.Kind.FIRED else "RESOLVED"
    return (
        f"[Callwright] {state}: {rule.name} — {label} {rule.get_comparison_display()} {rule.threshold:g} "
        f"over {rule.window_minutes} min (now {value:.4g})"
    )


def alert_rules_evaluate(*, now: datetime.datetime | None = None) -> list[AlertEvent]:
    """Evaluate every enabled rule once; the events written (fired or resolved)."""
    now = now or timezone.now()
    metrics = alert_metrics()
    events: list[AlertEvent] = []
    for rule in AlertRule.objects.filter(enabled=True):
        metric = metrics.get(rule.metric)
        if metric is None:
            logger.warning("alert rule %r watches %r, which no app measures", rule.name, rule.metric)
            continue
        try:
            value = metric.measure(datetime.timedelta(minutes=rule.window_minutes))
        except Exception:  # one broken measure must not stop the other rules
            logger.exception("alert rule %r: measuring %s failed", rule.name, rule.metric)
            continue
        if value is None:
            AlertRule.objects.filter(pk=rule.pk).update(last_evaluated_at=now)
            continue
        with transaction.atomic():
            AlertRule.objects.filter(pk=rule.pk).update(last_value=value, last_evaluated_at=now)
            if rule.breached(value):
                changed = AlertRule.objects.filter(pk=rule.pk, firing=False).update(firing=True, firing_since=now)
                kind = AlertEvent.Kind.FIRED
            else:
                changed = AlertRule.objects.filter(pk=rule.pk, firing=True).update(firing=False, firing_since=None)
                kind = AlertEvent.Kind.RESOLVED
            if changed:
                event = AlertEvent.objects.create(
                    rule=rule, kind=kind, value=value, message=describe(rule, metric, value, kind)
                )
                events.append(event)
                transaction.on_commit(signature("monitoring.send_alert_notification", args=(event.pk,)).delay)
    return events


class NotificationFailed(Exception):
    """The channel refused or did not answer; the task retries."""


def alert_event_notify(*, event_id: int) -> bool:
    """Send one event's notification; True if sent now, False if it already had been (idempotent).
    Raises NotificationFailed (after recording the error) so the task can retry."""
    event = AlertEvent.objects.select_related("rule").get(pk=event_id)
    if event.delivered_at is not None:
        return False
    AlertEvent.objects.filter(pk=event_id).update(attempts=F("attempts") + 1)
    rule = event.rule
    try:
        if rule.channel == AlertRule.Channel.SLACK:
            response = httpx.post(rule.slack_webhook_url, json={"text": event.message}, timeout=SLACK_TIMEOUT_SECONDS)
            response.raise_for_status()
        else:
            recipients = [address.strip() for address in rule.recipients.split(",") if address.strip()]
            send_mail(event.message[:200], event.message, settings.ALERTS_FROM_EMAIL, recipients, fail_silently=False)
    except Exception as error:  # SMTP, network or HTTP status: all retried the same way
        detail = f"{type(error).__name__}: {error}"[:500]
        AlertEvent.objects.filter(pk=event_id).update(last_error=detail)
        raise NotificationFailed(detail) from error
    AlertEvent.objects.filter(pk=event_id).update(delivered_at=timezone.now(), last_error="")
    return True
