"""Who speaks (Agent), to whom and when (Campaign), and each person's place in a campaign (CampaignTarget)."""

import datetime
from collections.abc import Mapping

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from campaigns.policies import default_days_of_week, default_dispositions, default_retry_policy
from contacts.models import E164_REGEX, ConsentPurpose
from voice.phrases import PHRASE_KEYS

# Callee-local calling hours can never leave 08:00–21:00 (TCPA 64.1200(c)(1)), whatever a campaign says.
EARLIEST_CALL_TIME = datetime.time(8, 0)
LATEST_CALL_TIME = datetime.time(21, 0)


class ConstraintErrorsOnFieldsMixin:
    """Model validation that reports a violated CheckConstraint on the field it is about.

    Django reports every CheckConstraint as an error of the whole form. Each constraint here carries
    its own words (`violation_error_message`) and its name as `violation_error_code`; `CONSTRAINT_FIELDS`
    says which field the operator must change, so the admin marks that field and says the rule there.
    The database keeps the constraints: this only changes where the words appear.
    """

    CONSTRAINT_FIELDS: Mapping[str, str] = {}

    def validate_constraints(self, exclude: set[str] | None = None) -> None:
        try:
            super().validate_constraints(exclude=exclude)
        except ValidationError as error:
            errors: dict[str, list[ValidationError]] = {}
            for field, messages in error.error_dict.items():
                for message in messages:
                    target = self.CONSTRAINT_FIELDS.get(message.code, field) if field == NON_FIELD_ERRORS else field
                    errors.setdefault(target, []).append(message)
            raise ValidationError(errors) from error


def check(condition: Q, *, name: str, message: str) -> models.CheckConstraint:
    """A CheckConstraint that says what it wants in words; its name is its error code."""
    return models.CheckConstraint(condition=condition, name=name, violation_error_message=message,
                                  violation_error_code=name)  # fmt: skip


class Agent(ConstraintErrorsOnFieldsMixin, models.Model):
    """The AI caller: its voice, its prompt, and what it may do on a call."""

    class VoiceProvider(models.TextChoices):
        ELEVENLABS = "elevenlabs", "ElevenLabs"
        OPENAI = "openai", "OpenAI"

    name = models.CharField(_("name"), max_length=200, unique=True)
    language = models.CharField(
        _("language"),
        max_length=16,
        default="en-US",
        help_text=_(
            "BCP 47 tag of the language the agent speaks and hears, e.g. en-US, es-ES, es-MX: speech-to-text, "
            "the voice, the model's instructions and the phrases the agent says by itself follow it."
        ),
    )
    system_prompt = models.TextField(_("system prompt"))
    first_message = models.TextField(
        _("first message"),
        help_text=_(
            "Spoken first. May use {{variables}}; must say the call is automated: "
            "“automated”, “AI”, “virtual assistant” or “artificial intelligence” "
            "(Spanish: “automatizado”, “asistente virtual”, “inteligencia artificial”)."
        ),
    )
    voicemail_message = models.TextField(
        _("voicemail message"), blank=True, help_text=_("Left after the beep; empty: hang up on voicemail.")
    )
    voice_provider = models.CharField(
        _("voice provider"), max_length=16, choices=VoiceProvider.choices, default=VoiceProvider.ELEVENLABS
    )
    voice_id = models.CharField(_("voice id"), max_length=100, blank=True)
    voice_model = models.CharField(_("voice model"), max_length=100, default="eleven_flash_v2_5")
    voice_speed = models.DecimalField(
        _("voice speed"),
        max_digits=3,
        decimal_places=2,
        default=1,
        validators=[
            MinValueValidator(0.5, _("Voice speed is between 0.5 and 2 (1 = normal).")),
            MaxValueValidator(2, _("Voice speed is between 0.5 and 2 (1 = normal).")),
        ],
        help_text=_("0.5 to 2; 1 = normal."),
    )
    llm_model = models.CharField(_("language model"), max_length=100, default="gpt-4o-mini")
    llm_temperature = models.DecimalField(
        _("temperature"),
        max_digits=3,
        decimal_places=2,
        default=0.7,
        validators=[
            MinValueValidator(0, _("Temperature is between 0 and 2 (0 = most predictable).")),
            MaxValueValidator(2, _("Temperature is between 0 and 2 (0 = most predictable).")),
        ],
        help_text=_("0 to 2; lower is more predictable."),
    )
    can_end_call = models.BooleanField(_("tool: end the call"), default=True)
    can_opt_out = models.BooleanField(_("tool: opt the callee out"), default=True)
    can_transfer = models.BooleanField(_("tool: transfer to a human"), default=False)
    transfer_number = models.CharField(
        _("transfer number"),
        max_length=16,
        blank=True,
        help_text=_("The human's number; any format, stored as E.164 (+14155550123). Needed to transfer."),
    )
    can_record_outcome = models.BooleanField(_("tool: record an outcome field"), default=True)
    can_schedule_callback = models.BooleanField(_("tool: schedule a callback"), default=True)
    outcome_schema = models.JSONField(
        _("outcome schema"),
        default=dict,
        blank=True,
        help_text=_("JSON Schema (draft 2020-12) of the fields to extract from each call; {} extracts nothing."),
    )
    phrases = models.JSONField(
        _("phrases"),
        default=dict,
        blank=True,
        help_text=format_lazy(
            "{} {}.",
            _(
                'Overrides of the phrases the agent says by itself, by key, e.g. {"hold": "Un momento."}; '
                "the others come from the translation of the agent's language. Keys:"
            ),
            ", ".join(PHRASE_KEYS),
        ),
    )
    silence_reprompt_seconds = models.PositiveSmallIntegerField(
        _("silence before the reprompt (seconds)"),
        default=8,
        help_text=_("Seconds of silence from the callee before the agent asks whether they are still there."),
    )
    silence_hang_up_seconds = models.PositiveSmallIntegerField(
        _("silence before hanging up (seconds)"),
        default=20,
        help_text=_("Seconds of silence before the agent says goodbye and hangs up (outcome “no response”)."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("agent")
        verbose_name_plural = _("agents")
        ordering = ["name"]
        constraints = [
            check(
                Q(silence_reprompt_seconds__gte=2) & Q(silence_hang_up_seconds__gt=F("silence_reprompt_seconds")),
                name="agent_silence_reprompt_before_hang_up",
                message=_("Reprompt after at least 2 seconds of silence, and hang up later than the reprompt."),
            ),
            check(
                Q(voice_speed__gte=0.5) & Q(voice_speed__lte=2),
                name="agent_voice_speed_range",
                message=_("Voice speed is between 0.5 and 2 (1 = normal)."),
            ),
            check(
                Q(llm_temperature__gte=0) & Q(llm_temperature__lte=2),
                name="agent_temperature_range",
                message=_("Temperature is between 0 and 2 (0 = most predictable)."),
            ),
            check(
                Q(can_transfer=False) | Q(transfer_number__regex=E164_REGEX),
                name="agent_transfer_needs_e164_number",
                message=_(
                    "To transfer, give the human's number in E.164 (e.g. +14155550123), "
                    "or untick “transfer to a human”."
                ),
            ),
        ]

    CONSTRAINT_FIELDS = {
        "agent_voice_speed_range": "voice_speed",
        "agent_temperature_range": "llm_temperature",
        "agent_transfer_needs_e164_number": "transfer_number",
        "agent_silence_reprompt_before_hang_up": "silence_hang_up_seconds",
    }

    def __str__(self) -> str:
        return self.name


class Campaign(ConstraintErrorsOnFieldsMixin, models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SCHEDULED = "scheduled", _("Scheduled")
        RUNNING = "running", _("Running")
        PAUSED = "paused", _("Paused")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")

    class AnsweringMachinePolicy(models.TextChoices):
        OFF = "off", _("No detection")
        HANG_UP = "hang_up", _("Detect and hang up")
        LEAVE_VOICEMAIL = "leave_voicemail", _("Detect and leave the agent's voicemail message")

    name = models.CharField(max_length=200, verbose_name=_("name"))
    agent = models.ForeignKey(Agent, on_delete=models.PROTECT, related_name="campaigns", verbose_name=_("agent"))
    contact_lists = models.ManyToManyField(
        "contacts.ContactList", related_name="campaigns", blank=True, verbose_name=_("contact lists")
    )
    purpose = models.CharField(
        max_length=32, choices=ConsentPurpose.choices, default=ConsentPurpose.INFORMATIONAL, verbose_name=_("purpose")
    )
    requires_consent = models.BooleanField(
        default=False,
        help_text=_("Dial only contacts with active consent for this campaign's purpose."),
        verbose_name=_("requires consent"),
    )
    caller_id = models.CharField(
        max_length=16,
        blank=True,
        help_text=_(
            "The number calls come from; any format, stored as E.164 (+14155550123). "
            "Empty: the TWILIO_FROM_NUMBER setting."
        ),
        verbose_name=_("caller id"),
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True, verbose_name=_("status")
    )
    starts_at = models.DateTimeField(null=True, blank=True, verbose_name=_("starts at"))
    ends_at = models.DateTimeField(null=True, blank=True, verbose_name=_("ends at"))
    window_start = models.TimeField(
        default=datetime.time(9, 0),
        help_text=_("Callee-local; 08:00 at the earliest, before the window's end."),
        verbose_name=_("window start"),
    )
    window_end = models.TimeField(
        default=datetime.time(20, 0), help_text=_("Callee-local; 21:00 at the latest."), verbose_name=_("window end")
    )
    days_of_week = models.JSONField(
        default=default_days_of_week,
        help_text=_("ISO weekdays callees may be called on (1 = Monday … 7 = Sunday)."),
        verbose_name=_("days of week"),
    )
    max_concurrent_calls = models.PositiveIntegerField(
        default=5,
        validators=[MinValueValidator(1, _("At least 1 call at a time."))],
        help_text=_("At least 1: calls of this campaign in progress at once."),
        verbose_name=_("max concurrent calls"),
    )
    calls_per_second = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=1,
        help_text=_("More than 0, e.g. 0.5 (one call every 2 seconds) or 1; your carrier's limit applies."),
        verbose_name=_("calls per second"),
    )
    retry_policy = models.JSONField(
        default=default_retry_policy,
        help_text=_("Per outcome (busy, no_answer, failed, voicemail): delay_minutes and max_attempts."),
        verbose_name=_("retry policy"),
    )
    dispositions = models.JSONField(
        default=default_dispositions,
        blank=True,
        help_text=_(
            "What the post-call analysis may conclude: a list of {code, label, next_step}; next_step is "
            "none, close, callback (at the time asked, inside the calling window), wrong_number or do_not_call."
        ),
        verbose_name=_("dispositions"),
    )
    max_attempts = models.PositiveIntegerField(
        default=3,
        validators=[MinValueValidator(1, _("At least 1 attempt, or no one is ever called."))],
        help_text=_("At least 1: lifetime attempts per target."),
        verbose_name=_("max attempts"),
    )
    max_attempts_per_24h = models.PositiveIntegerField(
        default=2,
        validators=[MinValueValidator(1, _("At least 1 attempt, or no one is ever called."))],
        help_text=_("At least 1: attempts per target in any 24 hours."),
        verbose_name=_("max attempts per 24h"),
    )
    max_attempts_per_7d = models.PositiveIntegerField(
        default=3,
        validators=[MinValueValidator(1, _("At least 1 attempt, or no one is ever called."))],
        help_text=_("At least 1: attempts per target in any 7 days."),
        verbose_name=_("max attempts per 7d"),
    )
    enforce_seven_in_seven = models.BooleanField(
        _("enforce Reg F 7-in-7"),
        default=False,
        help_text=_(
            "Across all campaigns: at most 7 calls in 7 days per contact, none within 7 days after a conversation."
        ),
    )
    activated_at = models.DateTimeField(
        null=True, blank=True, help_text=_("When the campaign first started running."), verbose_name=_("activated at")
    )
    finished_at = models.DateTimeField(
        null=True, blank=True, help_text=_("When it completed or was cancelled."), verbose_name=_("finished at")
    )
    answering_machine_policy = models.CharField(
        max_length=16,
        choices=AnsweringMachinePolicy.choices,
        default=AnsweringMachinePolicy.LEAVE_VOICEMAIL,
        verbose_name=_("answering machine policy"),
    )
    record_calls = models.BooleanField(default=False, verbose_name=_("record calls"))
    ring_timeout_seconds = models.PositiveIntegerField(
        default=30,
        validators=[
            MinValueValidator(5, _("Ring for 5 to 600 seconds.")),
            MaxValueValidator(600, _("Ring for 5 to 600 seconds.")),
        ],
        help_text=_("5 to 600 seconds."),
        verbose_name=_("ring timeout seconds"),
    )
    max_call_duration_seconds = models.PositiveIntegerField(
        default=600,
        validators=[MinValueValidator(10, _("A call may last at least 10 seconds."))],
        help_text=_("At least 10 seconds; the call is ended after it."),
        verbose_name=_("max call duration seconds"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-created_at"]
        constraints = [
            check(
                Q(status__in=["draft", "scheduled", "running", "paused", "completed", "cancelled"]),
                name="campaign_status_valid",
                message="Status is one of draft, scheduled, running, paused, completed, cancelled.",
            ),
            check(
                Q(window_start__gte=EARLIEST_CALL_TIME)
                & Q(window_end__lte=LATEST_CALL_TIME)
                & Q(window_start__lt=F("window_end")),
                name="campaign_window_within_legal_hours",
                message="Calling hours lie within 08:00–21:00 callee-local time and end after they start.",
            ),
            check(
                Q(ends_at__isnull=True) | Q(starts_at__isnull=True) | Q(ends_at__gt=F("starts_at")),
                name="campaign_ends_after_start",
                message="The end must come after the start.",
            ),
            check(
                Q(max_concurrent_calls__gte=1),
                name="campaign_concurrency_positive",
                message="At least 1 call at a time.",
            ),
            check(
                Q(calls_per_second__gt=0),
                name="campaign_cps_positive",
                message="Calls per second must be more than 0, e.g. 0.5 (one call every 2 seconds) or 1.",
            ),
            check(
                Q(ring_timeout_seconds__gte=5) & Q(ring_timeout_seconds__lte=600),
                name="campaign_ring_timeout_range",
                message="Ring for 5 to 600 seconds.",
            ),
            check(
                Q(max_call_duration_seconds__gte=10),
                name="campaign_call_duration_min",
                message="A call may last at least 10 seconds.",
            ),
        ]

    CONSTRAINT_FIELDS = {
        "campaign_status_valid": "status",
        "campaign_window_within_legal_hours": "window_end",
        "campaign_ends_after_start": "ends_at",
        "campaign_concurrency_positive": "max_concurrent_calls",
        "campaign_cps_positive": "calls_per_second",
        "campaign_ring_timeout_range": "ring_timeout_seconds",
        "campaign_call_duration_min": "max_call_duration_seconds",
    }

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from campaigns.policies import validate_days_of_week, validate_dispositions, validate_retry_policy

        validate_days_of_week(self.days_of_week)
        validate_retry_policy(self.retry_policy)
        validate_dispositions(self.dispositions)


class CampaignTarget(models.Model):
    """One contact inside one campaign: its state, attempts and when it may be dialled next."""

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        IN_PROGRESS = "in_progress", _("In progress")
        DONE = "done", _("Done")
        EXHAUSTED = "exhausted", _("Exhausted")
        SUPPRESSED = "suppressed", _("Suppressed")
        SKIPPED = "skipped", _("Skipped")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="targets", verbose_name=_("campaign"))
    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.PROTECT, related_name="campaign_targets", verbose_name=_("contact")
    )
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING, verbose_name=_("state"))
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    next_attempt_at = models.DateTimeField(null=True, blank=True, verbose_name=_("next attempt at"))
    last_outcome = models.CharField(max_length=32, blank=True, verbose_name=_("last outcome"))
    state_reason = models.CharField(
        max_length=255,
        blank=True,
        help_text=_("Why the target waits, or why it was closed."),
        verbose_name=_("state reason"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("campaign target")
        verbose_name_plural = _("campaign targets")
        ordering = ["campaign", "next_attempt_at"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "contact"], name="target_unique_per_campaign"),
            models.CheckConstraint(
                condition=Q(state__in=["pending", "in_progress", "done", "exhausted", "suppressed", "skipped"]),
                name="target_state_valid",
            ),
        ]
        indexes = [
            # The dispatcher's claim: due pending targets of one campaign, oldest first.
            models.Index(
                fields=["campaign", "next_attempt_at"], name="target_due_pending", condition=Q(state="pending")
            ),
            # The straggler sweep: targets waiting on a call, however many finished ones surround them.
            models.Index(fields=["updated_at"], name="target_in_progress", condition=Q(state="in_progress")),
        ]

    def __str__(self) -> str:
        return _("%(contact)s in %(campaign)s") % {"contact": self.contact, "campaign": self.campaign}


def report_upload_to(report: "CampaignReport", filename: str) -> str:
    return f"reports/campaign-{report.campaign_id}/{filename}"


class CampaignReport(models.Model):
    """A campaign's results as files an operator downloads: an Excel workbook and the same sheets as CSV (zip).

    Built by the `campaigns.build_report` task (campaigns/reports/), which reports its progress here.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Building")
        DONE = "done", _("Ready")
        FAILED = "failed", _("Failed")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="reports", verbose_name=_("campaign"))
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED, verbose_name=_("status"))
    rows_done = models.PositiveIntegerField(default=0, verbose_name=_("rows done"))
    rows_total = models.PositiveIntegerField(default=0, verbose_name=_("rows total"))
    workbook = models.FileField(upload_to=report_upload_to, blank=True, max_length=300, verbose_name=_("workbook"))
    csv_archive = models.FileField(
        upload_to=report_upload_to, blank=True, max_length=300, verbose_name=_("csv archive")
    )
    error = models.TextField(blank=True, verbose_name=_("error"))
    time_zone = models.CharField(
        max_length=64, help_text=_("The zone of the report's times and its heatmap."), verbose_name=_("time zone")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    started_at = models.DateTimeField(null=True, blank=True, verbose_name=_("started at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))

    class Meta:
        verbose_name = _("campaign report")
        verbose_name_plural = _("campaign reports")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "done", "failed"]), name="campaign_report_status_valid"
            )
        ]

    def __str__(self) -> str:
        if not self.created_at:
            return str(_("Report"))
        local = timezone.localtime(self.created_at)
        created = f"{date_format(local, 'SHORT_DATE_FORMAT')} {local:%H:%M}"
        return _("Report of %(campaign)s (%(created)s)") % {"campaign": self.campaign, "created": created}

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return min(99, int(100 * self.rows_done / self.rows_total)) if self.rows_total else 0


# Integration models live beside their code (campaigns/integrations/); imported here so Django registers them.
from campaigns.integrations.models import (  # noqa: E402, F401
    IdempotencyRecord,
    IntegrationToken,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
