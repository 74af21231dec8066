"""Integration tokens, stored POST answers for idempotency keys, and outbound webhooks with their deliveries."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now


class IntegrationToken(models.Model):
    """One external system's credential. Only a SHA-256 of the key is stored: the key is shown once.

    The token acts as its `user` (whose groups, model permissions and object grants decide what it may do),
    narrowed by its scope: a read-only token may only read, whatever the user may do.
    """

    class Scope(models.TextChoices):
        READ_ONLY = "read_only", "Read only"
        READ_WRITE = "read_write", "Read and write"

    name = models.CharField(max_length=100, help_text="Which system uses it, e.g. “Billing CRM”.")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="integration_tokens",
        help_text="The token acts as this user: its groups and permissions apply.",
    )
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.READ_ONLY)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    key_prefix = models.CharField(max_length=12, editable=False, help_text="The key's first characters, to tell it.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
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

    owner = models.CharField(max_length=64, help_text="SHA-256 of the credential the key belongs to.")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=500)
    request_hash = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.BinaryField(blank=True, default=b"")
    response_content_type = models.CharField(max_length=100, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(db_default=Now(), db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "key"], name="idempotency_key_once_per_owner")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}]"


class WebhookEvent(models.TextChoices):
    CALL_STARTED = "call.started", "A call was answered or started ringing through"
    CALL_ENDED = "call.ended", "A call ended"
    CALL_ANALYZED = "call.analyzed", "A call's outcome and extracted fields are ready"
    CAMPAIGN_COMPLETED = "campaign.completed", "A campaign completed"
    CONTACT_OPTED_OUT = "contact.opted_out", "A contact asked not to be called again"
    IMPORT_FINISHED = "import.finished", "A contact import finished"


class WebhookSubscription(models.Model):
    """An external URL told about chosen events, each POST signed with the subscription's secret."""

    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list, help_text='Event names, e.g. ["call.ended"].')
    secret = models.CharField(max_length=100, help_text="Signs every delivery (HMAC-SHA256); shared with the receiver.")
    is_active = models.BooleanField(default=True)
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    paused_at = models.DateTimeField(
        null=True, blank=True, help_text="Set after too many straight failures; clear it to deliver again."
    )
    paused_reason = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
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
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed (gave up)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=32, choices=WebhookEvent.choices)
    event_key = models.CharField(max_length=100, help_text="What the event is about, e.g. the call id.")
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"
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

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    attempted_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        return f"attempt {self.number}: {self.status_code or self.error}"
