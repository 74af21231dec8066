"""One attempt to reach a person (Call), every provider callback about it (CallEvent), and what was said."""

import uuid

from django.db import models
from django.db.models import Q


class CallStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    INITIATED = "initiated", "Initiated"
    RINGING = "ringing", "Ringing"
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"
    BUSY = "busy", "Busy"
    NO_ANSWER = "no_answer", "No answer"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Canceled"


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
    HUMAN = "human", "Human"
    MACHINE_START = "machine_start", "Machine (greeting started)"
    MACHINE_END_BEEP = "machine_end_beep", "Machine (after beep)"
    MACHINE_END_SILENCE = "machine_end_silence", "Machine (after silence)"
    MACHINE_END_OTHER = "machine_end_other", "Machine (other)"
    FAX = "fax", "Fax"
    UNKNOWN = "unknown", "Unknown"


class AnsweringMachinePolicy(models.TextChoices):
    """What the carrier does about answering machines on one call (set by whoever creates the call)."""

    OFF = "off", "No detection"
    HANG_UP = "hang_up", "Detect and hang up"
    LEAVE_VOICEMAIL = "leave_voicemail", "Detect and leave the agent's voicemail message"


# What a carrier accepts (Twilio's `Timeout` is 5–600 s; a `TimeLimit` under 10 s cuts off the greeting).
MIN_RING_TIMEOUT_SECONDS = 5
MAX_RING_TIMEOUT_SECONDS = 600
MIN_DURATION_SECONDS = 10


class AnalysisStatus(models.TextChoices):
    """Where a call's post-call analysis stands (campaigns/analysis.py)."""

    NOT_REQUESTED = "", "Not requested"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped (no conversation)"


class RecordingStatus(models.TextChoices):
    NONE = "", "None"
    STORED = "stored", "Stored here"
    FAILED = "failed", "Could not be fetched"
    DELETED = "deleted", "Deleted (erasure or retention)"


class CallQuerySet(models.QuerySet):
    def open(self) -> "CallQuerySet":
        return self.exclude(status__in=TERMINAL_STATUSES)


class Call(models.Model):
    class Direction(models.TextChoices):
        OUTBOUND = "outbound", "Outbound"
        INBOUND = "inbound", "Inbound"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    target = models.ForeignKey(
        "campaigns.CampaignTarget", null=True, blank=True, on_delete=models.PROTECT, related_name="calls"
    )
    contact = models.ForeignKey("contacts.Contact", on_delete=models.PROTECT, related_name="calls")
    campaign = models.ForeignKey(
        "campaigns.Campaign", null=True, blank=True, on_delete=models.PROTECT, related_name="calls"
    )
    agent = models.ForeignKey("campaigns.Agent", null=True, blank=True, on_delete=models.PROTECT, related_name="calls")
    direction = models.CharField(max_length=8, choices=Direction.choices, default=Direction.OUTBOUND)
    to_phone = models.CharField(max_length=16, help_text="E.164 number dialled, as it was at dial time.")
    from_phone = models.CharField(max_length=16, blank=True)
    # How to place it: copied from its campaign when the campaign creates it (calls never reads the
    # campaign); the defaults are those of a call outside any campaign (the admin's test call).
    ring_timeout_seconds = models.PositiveIntegerField(default=30, help_text="Seconds to ring before no answer.")
    max_duration_seconds = models.PositiveIntegerField(default=600, help_text="The carrier ends the call after this.")
    answering_machine_policy = models.CharField(
        max_length=16, choices=AnsweringMachinePolicy.choices, default=AnsweringMachinePolicy.OFF
    )
    record = models.BooleanField(default=False, help_text="Ask the carrier to record the call.")
    provider = models.CharField(max_length=32, help_text="Telephony adapter that placed the call.")
    provider_call_id = models.CharField(max_length=64, blank=True, help_text="Twilio CallSid, once known.")
    status = models.CharField(max_length=16, choices=CallStatus.choices, default=CallStatus.QUEUED)
    answered_by = models.CharField(max_length=24, choices=AnsweredBy.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    price = models.DecimalField(max_digits=10, decimal_places=5, null=True, blank=True)
    price_unit = models.CharField(max_length=3, blank=True)
    recording_url = models.URLField(max_length=500, blank=True)
    failure_reason = models.CharField(max_length=255, blank=True, help_text="What failed, for failed calls.")
    outcome = models.CharField(max_length=64, blank=True, help_text="Disposition after the call.")
    summary = models.TextField(blank=True)
    sentiment = models.CharField(max_length=16, blank=True)
    extracted_data = models.JSONField(default=dict, blank=True)
    latency_stats = models.JSONField(default=dict, blank=True)
    # Post-call analysis: the disposition is one of the campaign's codes (its next step is the campaign's to
    # take); `outcome` stays what the conversation itself recorded (opted out, callback requested, …).
    disposition = models.CharField(max_length=64, blank=True, help_text="The campaign's disposition code.")
    analysis_status = models.CharField(
        max_length=8, choices=AnalysisStatus.choices, default=AnalysisStatus.NOT_REQUESTED, blank=True
    )
    analysis_error = models.TextField(blank=True, help_text="Why the analysis failed, attempt by attempt.")
    analysis_attempts = models.PositiveSmallIntegerField(default=0)
    analysis_started_at = models.DateTimeField(null=True, blank=True)
    analyzed_at = models.DateTimeField(null=True, blank=True)
    analysis_model = models.CharField(max_length=64, blank=True)
    # What the call consumed, for its cost: telephony_seconds, tts_characters, stt_seconds, llm_prompt_tokens,
    # llm_completion_tokens (each added by the part that used it).
    usage = models.JSONField(default=dict, blank=True)
    # The call's estimated cost from `usage` and the CALL_PRICES table (calls/costs.py), in `cost_currency`.
    cost_telephony = models.DecimalField(max_digits=10, decimal_places=5, null=True, blank=True)
    cost_tts = models.DecimalField("cost: text to speech", max_digits=10, decimal_places=5, null=True, blank=True)
    cost_stt = models.DecimalField("cost: speech to text", max_digits=10, decimal_places=5, null=True, blank=True)
    cost_llm = models.DecimalField("cost: language model", max_digits=10, decimal_places=5, null=True, blank=True)
    cost = models.DecimalField("estimated cost", max_digits=10, decimal_places=5, null=True, blank=True)
    cost_currency = models.CharField(max_length=3, blank=True)
    # The recording, once fetched from the carrier into the project's storage (calls/services/recordings.py).
    recording_sid = models.CharField(max_length=64, blank=True)
    recording_file = models.FileField(upload_to="recordings/%Y/%m/", blank=True, max_length=300)
    recording_status = models.CharField(max_length=8, choices=RecordingStatus.choices, blank=True,
                                        default=RecordingStatus.NONE)  # fmt: skip
    recording_error = models.CharField(max_length=255, blank=True)

    objects = CallQuerySet.as_manager()

    class Meta:
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
        return f"Call {self.id} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class CallEvent(models.Model):
    """Append-only log of every provider callback; a retried webhook is stored once."""

    class Kind(models.TextChoices):
        STATUS = "status", "Status callback"
        AMD = "amd", "Answering-machine detection"
        RECORDING = "recording", "Recording"
        MEDIA = "media", "Media stream"
        SYSTEM = "system", "Callwright"

    # No index of its own: `call_event_once` starts with the call, so it serves every lookup by call, and a
    # second index would be one more entry written for every callback.
    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="events", db_index=False)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    provider_event_id = models.CharField(
        max_length=128, help_text="Identifies the callback at the provider (e.g. status + SequenceNumber)."
    )
    payload = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField(null=True, blank=True, help_text="Provider's timestamp, when given.")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["received_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["call", "kind", "provider_event_id"], name="call_event_once"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.provider_event_id}"


class TranscriptTurn(models.Model):
    """One utterance; latencies are milliseconds from the callee's end of speech."""

    class Role(models.TextChoices):
        AGENT = "agent", "Agent"
        CONTACT = "contact", "Contact"
        SYSTEM = "system", "System"

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="turns")
    index = models.PositiveIntegerField()
    role = models.CharField(max_length=8, choices=Role.choices)
    text = models.TextField()
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    interrupted = models.BooleanField(default=False, help_text="The callee spoke over the agent (barge-in).")
    stt_final_ms = models.PositiveIntegerField(null=True, blank=True)
    llm_first_token_ms = models.PositiveIntegerField(null=True, blank=True)
    tts_first_byte_ms = models.PositiveIntegerField(null=True, blank=True)
    first_audio_sent_ms = models.PositiveIntegerField(null=True, blank=True)
    first_audio_heard_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["call", "index"]
        constraints = [
            models.UniqueConstraint(fields=["call", "index"], name="turn_index_unique_per_call"),
            models.CheckConstraint(condition=Q(role__in=["agent", "contact", "system"]), name="turn_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.role} #{self.index}"
