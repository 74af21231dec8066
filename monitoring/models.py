"""Alert rules kept in the admin, for a team without Prometheus, and the history of what they did.

A rule watches one alert metric (`monitoring.alerting.alert_metrics()`: failed-call share, connect rate,
provider errors, queue depth, worker heartbeat age… registered by the apps that know them) over a window,
against a threshold. Beat evaluates every enabled rule each minute; a rule *fires* once when its condition
becomes true and *resolves* once when it clears, each time writing an `AlertEvent` and notifying its channel
(e-mail or Slack, retried). While it stays firing, nothing more is sent.
"""

from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class AlertRule(models.Model):
    class Comparison(models.TextChoices):
        ABOVE = "above", _("is above")
        BELOW = "below", _("is below")

    class Channel(models.TextChoices):
        EMAIL = "email", _("E-mail")
        SLACK = "slack", "Slack"

    name = models.CharField(max_length=200, unique=True, verbose_name=_("name"))
    metric = models.CharField(
        max_length=64, help_text=_("What is measured; the list says what each one is."), verbose_name=_("metric")
    )
    comparison = models.CharField(
        max_length=8, choices=Comparison.choices, default=Comparison.ABOVE, verbose_name=_("comparison")
    )
    threshold = models.FloatField(verbose_name=_("threshold"))
    window_minutes = models.PositiveIntegerField(
        default=15,
        validators=[MinValueValidator(1, _("At least 1 minute."))],
        help_text=_("The metric is measured over this many minutes before now."),
        verbose_name=_("window minutes"),
    )
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.EMAIL, verbose_name=_("channel"))
    recipients = models.CharField(
        max_length=500, blank=True, help_text=_("E-mail: addresses separated by commas."), verbose_name=_("recipients")
    )
    slack_webhook_url = models.URLField(
        max_length=500,
        blank=True,
        help_text=_("Slack: the channel's incoming-webhook URL (https://hooks.slack.com/…)."),
        verbose_name=_("slack webhook url"),
    )
    enabled = models.BooleanField(default=True, verbose_name=_("enabled"))
    # State, written by the evaluation only (conditional UPDATEs: one notification per change).
    firing = models.BooleanField(default=False, editable=False, verbose_name=_("firing"))
    firing_since = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("firing since"))
    last_value = models.FloatField(null=True, blank=True, editable=False, verbose_name=_("last value"))
    last_evaluated_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("last evaluated at"))

    class Meta:
        verbose_name = _("alert rule")
        verbose_name_plural = _("alert rules")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(channel="email") | ~models.Q(recipients=""),
                name="alert_rule_email_has_recipients",
                violation_error_message=_("An e-mail rule needs at least one recipient."),
            ),
            models.CheckConstraint(
                condition=~models.Q(channel="slack") | ~models.Q(slack_webhook_url=""),
                name="alert_rule_slack_has_webhook",
                violation_error_message=_("A Slack rule needs its incoming-webhook URL."),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def breached(self, value: float) -> bool:
        return value > self.threshold if self.comparison == self.Comparison.ABOVE else value < self.threshold


class AlertEvent(models.Model):
    """A rule fired or resolved, and whether its notification got through. Append-only but for delivery."""

    class Kind(models.TextChoices):
        FIRED = "fired", _("Fired")
        RESOLVED = "resolved", _("Resolved")

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="events", verbose_name=_("rule"))
    kind = models.CharField(max_length=8, choices=Kind.choices, verbose_name=_("kind"))
    value = models.FloatField(verbose_name=_("value"))
    message = models.TextField(verbose_name=_("message"))
    created_at = models.DateTimeField(auto_now_add=True, db_index=True, verbose_name=_("created at"))
    attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("attempts"))
    delivered_at = models.DateTimeField(null=True, blank=True, verbose_name=_("delivered at"))
    last_error = models.CharField(max_length=500, blank=True, verbose_name=_("last error"))

    class Meta:
        verbose_name = _("alert event")
        verbose_name_plural = _("alert events")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.rule}: {self.get_kind_display()}"
