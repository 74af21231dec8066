"""One attempt to reach a person (Call), every provider callback about it (CallEvent), and what was said."""

import uuid

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class CallStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    INITIATED = "initiated", _("Initiated")
    RINGING = "ringing", _("Ringing")
    IN_PROGRESS = "in_progress", _("In progress")
    COMPLETED = "completed", _("Completed")
    BUSY = "busy", _("Busy")
    NO_ANSWER = "no_answer", _("No answer")
    FAILED = "failed", _("Failed")
    CANCELED = "canceled", _("Canceled")


TERMINAL_STATUSES = frozenset(
    {CallStatus.COMPLETED, CallStatus.BUSY, CallStatus.NO_ANSWER, CallStatus.FAILED, CallStatus.CANCELED}
)
# A stable order for the database constraint (a frozenset's order changes with the hash seed).
TERMINAL_STATUS_VALUES = sorted(status.value for status in TERMINAL_STATUSES)
# Progress order of the open statuses; every terminal status ranks after all of them.
STATUS_RANK = {
    CallStatus.QUEUED: 0,
    CallStatus.INITIATED: 1,
    CallStatus.RINGING: 2,
    CallStatus.IN_PROGRESS: 3,
    **dict.fromkeys(TERMINAL_STATUSES, 4),
}


class AnsweredBy(models.TextChoices):
    HUMAN = "human", _("Human")
    MACHINE_START = "machine_start", _("Machine (greeting started)")
    MACHINE_END_BEEP = "machine_end_beep", _("Machine (after beep)")
    MACHINE_END_SILENCE = "machine_end_silence", _("Machine (after silence)")
    MACHINE_END_OTHER = "machine_end_other", _("Machine (other)")
    FAX = "fax", "Fax"
    UNKNOWN = "unknown", _("Unknown")


class AnsweringMachinePolicy(models.TextChoices):
    """What the carrier does about answering machines on one call (set by whoever creates the call)."""

    OFF = "off", _("No detection")
    HANG_UP = "hang_up", _("Detect and hang up")
    LEAVE_VOICEMAIL = "leave_voicemail", _("Detect and leave the agent's voicemail message")


# What a carrier accepts (Twilio's `Timeout` is 5–600 s; a `TimeLimit` under 10 s cuts off the greeting).
MIN_RING_TIMEOUT_SECONDS = 5
MAX_RING_TIMEOUT_SECONDS = 600
MIN_DURATION_SECONDS = 10


class AnalysisStatus(models.TextChoices):
    """Where a call's post-call analysis stands (campaigns/analysis.py)."""

    NOT_REQUESTED = "", _("Not requested")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Skipped (no conversation)")


class RecordingStatus(models.TextChoices):
    NONE = "", _("None")
    STORED = "stored", _("Stored here")
    FAILED = "failed", _("Could not be fetched")
    DELETED = "deleted", _("Deleted (erasure or retention)")


class CallQuerySet(models.QuerySet):
    def open(self) -> "CallQuerySet":
        return self.exclude(status__in=TERMINAL_STATUSES)


class Call(models.Model):
    class Direction(models.TextChoices):
        OUTBOUND = "outbound", _("Outbound")
        INBOUND = "inbound", _("Inbound")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False, verbose_name="ID")
    target = models.ForeignKey(
        "campaigns.CampaignTarget",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="calls",
        verbose_name=_("target"),
    )
    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.PROTECT, related_name="calls", verbose_name=_("contact")
    )
    campaign = models.ForeignKey(
        "campaigns.Campaign",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="calls",
        verbose_name=_("campaign"),
    )
    agent = models.ForeignKey(
        "campaigns.Agent",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="calls",
        verbose_name=_("agent"),
    )
    direction = models.CharField(
        max_length=8, choices=Direction.choices, default=Direction.OUTBOUND, verbose_name=_("direction")
    )
    to_phone = models.CharField(
        max_length=16, help_text=_("E.164 number dialled, as it was at dial time."), verbose_name=_("to phone")
    )
    from_phone = models.CharField(max_length=16, blank=True, verbose_name=_("from phone"))
    # How to place it: copied from its campaign when the campaign creates it (calls never reads the
    # campaign); the defaults are those of a call outside any campaign (the admin's test call).
    ring_timeout_seconds = models.PositiveIntegerField(
        default=30, help_text=_("Seconds to ring before no answer."), verbose_name=_("ring timeout seconds")
    )
    max_duration_seconds = models.PositiveIntegerField(
        default=600, help_text=_("The carrier ends the call after this."), verbose_name=_("max duration seconds")
    )
    answering_machine_policy = models.CharField(
        max_length=16,
        choices=AnsweringMachinePolicy.choices,
        default=AnsweringMachinePolicy.OFF,
        verbose_name=_("answering machine policy"),
    )
    record = models.BooleanField(
        default=False, help_text=_("Ask the carrier to record the call."), verbose_name=_("record")
    )
    provider = models.CharField(
        max_length=32, help_text=_("Telephony adapter that placed the call."), verbose_name=_("provider")
    )
    provider_call_id = models.CharField(
        max_length=64, blank=True, help_text=_("Twilio CallSid, once known."), verbose_name=_("provider call id")
    )
    status = models.CharField(
        max_length=16, choices=CallStatus.choices, default=CallStatus.QUEUED, verbose_name=_("status")
    )
    answered_by = models.CharField(max_length=24, choices=AnsweredBy.choices, blank=True, verbose_name=_("answered by"))
    created_at = models.DateTimeField(auto_now_add=True, db_index=True, verbose_name=_("created at"))
    started_at = models.DateTimeField(null=True, blank=True, verbose_name=_("started at"))
    answered_at = models.DateTimeField(null=True, blank=True, verbose_name=_("answered at"))
    ended_at = models.DateTimeField(null=True, blank=True, verbose_name=_("ended at"))
    duration_seconds = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("duration seconds"))
    price = models.DecimalField(max_digits=10, decimal_places=5, null=True, blank=True, verbose_name=_("price"))
    price_unit = models.CharField(max_length=3, blank=True, verbose_name=_("price unit"))
    recording_url = models.URLField(max_length=500, blank=True, verbose_name=_("recording url"))
    failure_reason = models.CharField(
        max_length=255, blank=True, help_text=_("What failed, for failed calls."), verbose_name=_("failure reason")
    )
    outcome = models.CharField(
        max_length=64, blank=True, help_text=_("Disposition after the call."), verbose_name=_("outcome")
    )
    summary = models.TextField(blank=True, verbose_name=_("summary"))
    sentiment = models.CharField(max_length=16, blank=True, verbose_name=_("sentiment"))
    extracted_data = models.JSONField(default=dict, blank=True, verbose_name=_("extracted data"))
    latency_stats = models.JSONField(default=dict, blank=True, verbose_name=_("latency stats"))
    # Post-call analysis: the disposition is one of the campaign's codes (its next step is the campaign's to
    # take); `outcome` stays what the conversation itself recorded (opted out, callback requested, …).
    disposition = models.CharField(
        max_length=64, blank=True, help_text=_("The campaign's disposition code."), verbose_name=_("disposition")
    )
    analysis_status = models.CharField(
        max_length=8,
        choices=AnalysisStatus.choices,
        default=AnalysisStatus.NOT_REQUESTED,
        blank=True,
        verbose_name=_("analysis status"),
    )
    analysis_error = models.TextField(
        blank=True, help_text=_("Why the analysis failed, attempt by attempt."), verbose_name=_("analysis error")
    )
    analysis_attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("analysis attempts"))
    analysis_started_at = models.DateTimeField(null=True, blank=True, verbose_name=_("analysis started at"))
    analyzed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("analyzed at"))
    analysis_model = models.CharField(max_length=64, blank=True, verbose_name=_("analysis model"))
    # What the call consumed, for its cost: telephony_seconds, tts_characters, stt_seconds, llm_prompt_tokens,
    # llm_completion_tokens (each added by the part that used it).
    usage = models.JSONField(default=dict, blank=True, verbose_name=_("usage"))
    # The call's estimated cost from `usage` and the CALL_PRICES table (calls/costs.py), in `cost_currency`.
    cost_telephony = models.DecimalField(
        max_digits=10, decimal_places=5, null=True, blank=True, verbose_name=_("cost telephony")
    )
    cost_tts = models.DecimalField(_("cost: text to speech"), max_digits=10, decimal_places=5, null=True, blank=True)
    cost_stt = models.DecimalField(_("cost: speech to text"), max_digits=10, decimal_places=5, null=True, blank=True)
    cost_llm = models.DecimalField(_("cost: language model"), max_digits=10, decimal_places=5, null=True, blank=True)
    cost = models.DecimalField(_("estimated cost"), max_digits=10, decimal_places=5, null=True, blank=True)
    cost_currency = models.CharField(max_length=3, blank=True, verbose_name=_("cost currency"))
    # The recording, once fetched from the carrier into the project's storage (calls/services/recordings.py).
    recording_sid = models.CharField(max_length=64, blank=True, verbose_name=_("recording sid"))
    recording_file = models.FileField(
        upload_to="recordings/%Y/%m/", blank=True, max_length=300, verbose_name=_("recording file")
    )
    recording_status = models.CharField(max_length=8, choices=RecordingStatus.choices, blank=True,
                                        default=RecordingStatus.NONE, verbose_name=_("recording status"))  # fmt: skip
    recording_error = models.CharField(max_length=255, blank=True, verbose_name=_("recording error"))

    objects = CallQuerySet.as_manager()

    class Meta:
        verbose_name = _("call")
        verbose_name_plural = _("calls")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=CallStatus.values), name="call_status_valid"),
            # A terminal call has ended; an open one has not.
            models.CheckConstraint(
                condition=(Q(status__in=TERMINAL_STATUS_VALUES) & Q(ended_at__isnull=False))
                | (~Q(status__in=TERMINAL_STATUS_VALUES) & Q(ended_at__isnull=True)),
                name="call_ended_at_iff_terminal",
            ),
            models.UniqueConstraint(
                fields=["provider", "provider_call_id"],
                condition=~Q(provider_call_id=""),
                name="call_provider_id_unique",
            ),
            models.CheckConstraint(
                condition=Q(ring_timeout_seconds__gte=MIN_RING_TIMEOUT_SECONDS)
                & Q(ring_timeout_seconds__lte=MAX_RING_TIMEOUT_SECONDS),
                name="call_ring_timeout_range",
            ),
            models.CheckConstraint(
                condition=Q(max_duration_seconds__gte=MIN_DURATION_SECONDS), name="call_max_duration_min"
            ),
            models.CheckConstraint(
                condition=Q(answering_machine_policy__in=AnsweringMachinePolicy.values),
                name="call_answering_machine_policy_valid",
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="call_status_created")]
        # Live supervision (the `supervisor` group holds these, with read access to contacts, campaigns, calls).
        permissions = [
            ("view_live_calls", "Can watch live calls (live board and call view)"),
            ("listen_live_calls", "Can listen in on live calls"),
            ("steer_live_calls", "Can steer live calls: whisper, take over, hang up, transfer, do not call, pause"),
            ("listen_to_recording", "Can listen to call recordings"),
        ]

    def __str__(self) -> str:
        return _("Call %(id)s (%(status)s)") % {"id": self.id, "status": self.get_status_display()}

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class CallEvent(models.Model):
    """Append-only log of every provider callback; a retried webhook is stored once."""

    class Kind(models.TextChoices):
        STATUS = "status", _("Status callback")
        AMD = "amd", _("Answering-machine detection")
        RECORDING = "recording", _("Recording")
        MEDIA = "media", _("Media stream")
        SYSTEM = "system", "Callwright"

    # No index of its own: `call_event_once` starts with the call, so it serves every lookup by call, and a
    # second index would be one more entry written for every callback.
    call = models.ForeignKey(
        Call, on_delete=models.CASCADE, related_name="events", db_index=False, verbose_name=_("call")
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, verbose_name=_("kind"))
    provider_event_id = models.CharField(
        max_length=128,
        help_text=_("Identifies the callback at the provider (e.g. status + SequenceNumber)."),
        verbose_name=_("provider event id"),
    )
    payload = models.JSONField(default=dict, blank=True, verbose_name=_("payload"))
    occurred_at = models.DateTimeField(
        null=True, blank=True, help_text=_("Provider's timestamp, when given."), verbose_name=_("occurred at")
    )
    received_at = models.DateTimeField(auto_now_add=True, verbose_name=_("received at"))

    class Meta:
        verbose_name = _("call event")
        verbose_name_plural = _("call events")
        ordering = ["received_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["call", "kind", "provider_event_id"], name="call_event_once"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.provider_event_id}"


class TranscriptTurn(models.Model):
    """One utterance; latencies are milliseconds from the callee's end of speech."""

    class Role(models.TextChoices):
        AGENT = "agent", _("Agent")
        CONTACT = "contact", _("Contact")
        SYSTEM = "system", _("System")

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="turns", verbose_name=_("call"))
    index = models.PositiveIntegerField(verbose_name=_("index"))
    role = models.CharField(max_length=8, choices=Role.choices, verbose_name=_("role"))
    text = models.TextField(verbose_name=_("text"))
    started_at = models.DateTimeField(null=True, blank=True, verbose_name=_("started at"))
    ended_at = models.DateTimeField(null=True, blank=True, verbose_name=_("ended at"))
    interrupted = models.BooleanField(
        default=False, help_text=_("The callee spoke over the agent (barge-in)."), verbose_name=_("interrupted")
    )
    stt_final_ms = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("stt final ms"))
    llm_first_token_ms = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("llm first token ms"))
    tts_first_byte_ms = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("tts first byte ms"))
    first_audio_sent_ms = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("first audio sent ms"))
    first_audio_heard_ms = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("first audio heard ms"))

    class Meta:
        verbose_name = _("transcript turn")
        verbose_name_plural = _("transcript turns")
        ordering = ["call", "index"]
        constraints = [
            models.UniqueConstraint(fields=["call", "index"], name="turn_index_unique_per_call"),
            models.CheckConstraint(condition=Q(role__in=["agent", "contact", "system"]), name="turn_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.get_role_display()} #{self.index}"
