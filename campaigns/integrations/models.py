"""Integration tokens, stored POST answers for idempotency keys, and outbound webhooks with their deliveries."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _


class IntegrationToken(models.Model):
    """One external system's credential. Only a SHA-256 of the key is stored: the key is shown once.

    The token acts as its `user` (whose groups, model permissions and object grants decide what it may do),
    narrowed by its scope: a read-only token may only read, whatever the user may do.
    """

    class Scope(models.TextChoices):
        READ_ONLY = "read_only", _("Read only")
        READ_WRITE = "read_write", _("Read and write")

    name = models.CharField(
        max_length=100, help_text=_("Which system uses it, e.g. “Billing CRM”."), verbose_name=_("name")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="integration_tokens",
        help_text=_("The token acts as this user: its groups and permissions apply."),
        verbose_name=_("user"),
    )
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.READ_ONLY, verbose_name=_("scope"))
    key_hash = models.CharField(max_length=64, unique=True, editable=False, verbose_name=_("key hash"))
    key_prefix = models.CharField(
        max_length=12,
        editable=False,
        help_text=_("The key's first characters, to tell it."),
        verbose_name=_("key prefix"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("last used at"))
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("revoked at"))

    class Meta:
        verbose_name = _("integration token")
        verbose_name_plural = _("integration tokens")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(scope__in=["read_only", "read_write"]), name="token_scope_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class IdempotencyRecord(models.Model):
    """The first answer to a POST sent with an `Idempotency-Key`, per credential.

    The row is inserted before the view runs, in the request's transaction: a concurrent repeat blocks on
    the unique constraint until the first commits, then reads its answer (it never runs the view again).
    """

    owner = models.CharField(
        max_length=64, help_text=_("SHA-256 of the credential the key belongs to."), verbose_name=_("owner")
    )
    key = models.CharField(max_length=255, verbose_name=_("key"))
    method = models.CharField(max_length=8, verbose_name=_("method"))
    path = models.CharField(max_length=500, verbose_name=_("path"))
    request_hash = models.CharField(
        max_length=64, help_text=_("SHA-256 of method, path and body."), verbose_name=_("request hash")
    )
    status_code = models.PositiveSmallIntegerField(null=True, blank=True, verbose_name=_("status code"))
    response_body = models.BinaryField(blank=True, default=b"", verbose_name=_("response body"))
    response_content_type = models.CharField(max_length=100, blank=True, verbose_name=_("response content type"))
    response_headers = models.JSONField(default=dict, blank=True, verbose_name=_("response headers"))
    created_at = models.DateTimeField(db_default=Now(), db_index=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("idempotency record")
        verbose_name_plural = _("idempotency records")
        constraints = [models.UniqueConstraint(fields=["owner", "key"], name="idempotency_key_once_per_owner")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}]"


class WebhookEvent(models.TextChoices):
    CALL_STARTED = "call.started", _("A call was answered or started ringing through")
    CALL_ENDED = "call.ended", _("A call ended")
    CALL_ANALYZED = "call.analyzed", _("A call's outcome and extracted fields are ready")
    CAMPAIGN_COMPLETED = "campaign.completed", _("A campaign completed")
    CONTACT_OPTED_OUT = "contact.opted_out", _("A contact asked not to be called again")
    IMPORT_FINISHED = "import.finished", _("A contact import finished")


class WebhookSubscription(models.Model):
    """An external URL told about chosen events, each POST signed with the subscription's secret."""

    name = models.CharField(max_length=100, verbose_name=_("name"))
    url = models.URLField(max_length=500, verbose_name=_("url"))
    events = models.JSONField(default=list, help_text=_('Event names, e.g. ["call.ended"].'), verbose_name=_("events"))
    secret = models.CharField(
        max_length=100,
        help_text=_("Signs every delivery (HMAC-SHA256); shared with the receiver."),
        verbose_name=_("secret"),
    )
    is_active = models.BooleanField(default=True, verbose_name=_("is active"))
    consecutive_failures = models.PositiveIntegerField(
        default=0, editable=False, verbose_name=_("consecutive failures")
    )
    paused_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("Set after too many straight failures; clear it to deliver again."),
        verbose_name=_("paused at"),
    )
    paused_reason = models.CharField(max_length=255, blank=True, verbose_name=_("paused reason"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        from campaigns.integrations.webhook_urls import UnsafeWebhookURL, webhook_url_check

        errors = {}
        known = set(WebhookEvent.values)
        if not isinstance(self.events, list) or not self.events or not set(map(str, self.events)) <= known:
            errors["events"] = f"A list of one or more of: {', '.join(WebhookEvent.values)}."
        if self.url:
            try:
                webhook_url_check(self.url)
            except UnsafeWebhookURL as refusal:
                errors["url"] = str(refusal)
        if errors:
            raise ValidationError(errors)


class WebhookDelivery(models.Model):
    """One event for one subscription, with its attempts. Delivered at most once successfully."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed (gave up)")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False, verbose_name="ID")
    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("subscription")
    )
    event = models.CharField(max_length=32, choices=WebhookEvent.choices, verbose_name=_("event"))
    event_key = models.CharField(
        max_length=100, help_text=_("What the event is about, e.g. the call id."), verbose_name=_("event key")
    )
    payload = models.JSONField(verbose_name=_("payload"))
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, verbose_name=_("status"))
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    next_attempt_at = models.DateTimeField(null=True, blank=True, verbose_name=_("next attempt at"))
    delivered_at = models.DateTimeField(null=True, blank=True, verbose_name=_("delivered at"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("webhook delivery")
        ordering = ["-created_at"]
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            # An event raised twice (a hook run again by the reaper) is delivered once.
            models.UniqueConstraint(fields=["subscription", "event", "event_key"], name="webhook_delivery_once"),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "delivered", "failed"]), name="webhook_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.subscription}"


class WebhookAttempt(models.Model):
    """One HTTP attempt of a delivery: what the receiver answered, or why it could not be reached."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log", verbose_name=_("delivery")
    )
    number = models.PositiveIntegerField(verbose_name=_("number"))
    status_code = models.PositiveSmallIntegerField(null=True, blank=True, verbose_name=_("status code"))
    error = models.CharField(max_length=500, blank=True, verbose_name=_("error"))
    response_excerpt = models.CharField(max_length=500, blank=True, verbose_name=_("response excerpt"))
    duration_ms = models.PositiveIntegerField(default=0, verbose_name=_("duration ms"))
    attempted_at = models.DateTimeField(db_default=Now(), verbose_name=_("attempted at"))

    class Meta:
        verbose_name = _("webhook attempt")
        verbose_name_plural = _("webhook attempts")
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        return f"attempt {self.number}: {self.status_code or self.error}"
