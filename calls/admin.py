"""Calls are records of what happened: the admin shows them, it never edits them."""

import datetime
import json
import mimetypes
import uuid

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, ngettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from calls.admin_actions import place_test_call
from calls.contact_history import ContactFilter, contact_calls_section
from calls.hooks import notify_call_finished_on_commit
from calls.models import Call, CallEvent, RecordingStatus, TranscriptTurn
from calls.outcomes import outcome_words
from calls.services import calls_analysis_reset
from contacts.admin import ReadOnlyAdminMixin, register_contact_action, register_contact_history
from contacts.templatetags.viewer_formats import instant


def to_the_second(value: datetime.datetime | None) -> str:
    """A stored instant as the operator reads it: local date and time to the second, with the zone."""
    return instant(timezone.localtime(value)) if value else "–"


def event_summary(event: CallEvent) -> str:
    """The few payload values that say what an event was ("CallStatus: ringing"), else its first ones."""
    payload = event.payload if isinstance(event.payload, dict) else {}
    keys = [key for key in EVENT_SUMMARY_KEYS if payload.get(key) not in (None, "", {}, [])]
    keys = keys or [key for key in payload if not isinstance(payload[key], dict | list)][:3]
    return " · ".join(f"{key}: {payload[key]}" for key in keys)


def turn_note(turn: TranscriptTurn) -> str:
    """What a turn's bubble says under it: whether the callee cut in, and how soon each stage of the reply came."""
    notes = [gettext("interrupted by the callee")] if turn.interrupted else []
    stages = [(label, getattr(turn, name)) for label, name in TURN_STAGES if getattr(turn, name) is not None]
    if stages:
        timings = ", ".join(f"{label} {ms} ms" for label, ms in stages)
        notes.append(gettext("after the callee stopped: %(timings)s") % {"timings": timings})
    return " · ".join(notes)


# A reply's latency stages, from the callee's end of speech (TranscriptTurn's fields).
TURN_STAGES = (
    (_("STT final"), "stt_final_ms"), (_("LLM first token"), "llm_first_token_ms"),
    (_("TTS first byte"), "tts_first_byte_ms"), (_("first audio sent"), "first_audio_sent_ms"),
    (_("heard"), "first_audio_heard_ms"),
)  # fmt: skip


# The payload fields that say most about an event, in the order shown (Twilio's callbacks, then ours).
EVENT_SUMMARY_KEYS = (
    "CallStatus", "AnsweredBy", "CallDuration", "ErrorCode", "ErrorMessage", "RecordingStatus",
    "RecordingDuration", "reason", "tool", "arguments", "result", "error", "outcome",
)  # fmt: skip


@admin.register(Call)
class CallAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """A call's page reads as the call went: the conversation first, then the facts, the raw events folded."""

    # What happened first, in few narrow columns (names cut short by the list's CSS): the outcome stays in
    # view beside the admin's navigation and filters on a 1,400 px screen.
    list_display = ("short_id", "status_line", "outcome_in_words", "duration", "created", "contact", "campaign")
    change_list_template = "admin/calls/call/change_list.html"
    list_filter = (ContactFilter, "status", "answered_by", "disposition", "sentiment", "analysis_status", "direction",
                   "provider", "campaign")  # fmt: skip
    search_fields = ("id", "provider_call_id", "to_phone", "contact__first_name", "contact__last_name", "outcome")
    date_hierarchy = "created_at"
    list_select_related = ("contact", "campaign")
    change_form_template = "admin/calls/call/change_form.html"
    readonly_fields = ("created", "started", "answered", "ended")
    fieldsets = (
        (_("Outcome"), {"fields": ("outcome", "disposition", "summary", "sentiment", "extracted_data")}),
        (
            _("Analysis"),
            {
                "classes": ("collapse",),
                "fields": ("analysis_status", "analysis_error", "analysis_attempts", "analysis_model", "analyzed_at"),
            },
        ),
        (None, {"fields": ("id", "status", "direction", "contact", "campaign", "agent", "target")}),
        (_("Timing"), {"fields": ("created", "started", "answered", "ended", "duration_seconds")}),
        (
            _("Telephony"),
            {"fields": ("provider", "provider_call_id", "to_phone", "from_phone", "answered_by", "failure_reason")},
        ),
        (
            _("Cost, recording and latency"),
            {
                "fields": (
                    "cost",
                    "cost_telephony",
                    "cost_tts",
                    "cost_stt",
                    "cost_llm",
                    "cost_currency",
                    "price",
                    "price_unit",
                    "usage",
                    "recording_url",
                    "recording_status",
                    "recording_error",
                    "latency_stats",
                )
            },
        ),
    )

    actions = ("analyse_again",)

    @admin.action(
        description=_("Analyse again (replaces the summary, disposition and extracted fields)"),
        permissions=["analyse"],
    )
    def analyse_again(self, request: HttpRequest, queryset: QuerySet[Call]) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        reset = calls_analysis_reset(call_ids=ids)
        for call_id in queryset.filter(pk__in=ids, analysis_status="").values_list("pk", flat=True):
            notify_call_finished_on_commit(call_id)  # the same path as a call that has just ended
        self.message_user(
            request,
            ngettext("%(count)d call queued for analysis again.", "%(count)d calls queued for analysis again.", reset)
            % {"count": reset},
            messages.SUCCESS,
        )

    def has_analyse_permission(self, request: HttpRequest) -> bool:
        # Calls are read-only in the admin; re-running their analysis is for who may change them at all.
        return request.user.has_perm("calls.change_call")

    def get_urls(self) -> list:
        from django.urls import path

        listen = self.admin_site.admin_view(self.recording_view)
        return [path("<uuid:call_id>/recording/", listen, name="calls_call_recording"), *super().get_urls()]

    def recording_view(self, request: HttpRequest, call_id: uuid.UUID) -> FileResponse:
        """The call's stored recording, to staff allowed to listen to recordings (403 to anyone else)."""
        if not request.user.has_perm("calls.listen_to_recording"):
            raise PermissionDenied
        call = get_object_or_404(Call, pk=call_id, recording_status=RecordingStatus.STORED)
        if not call.recording_file:
            raise Http404(gettext("No stored recording"))
        name = call.recording_file.name.rsplit("/", 1)[-1]
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return FileResponse(call.recording_file.open("rb"), filename=name, content_type=content_type)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        call = self.get_object(request, object_id)
        if call is not None:
            events = [(event, event_summary(event), json.dumps(event.payload, indent=2, ensure_ascii=False))
                      for event in call.events.all()]  # fmt: skip
            turns = [(turn, turn_note(turn)) for turn in call.turns.all()]
            recording = (
                reverse("admin:calls_call_recording", args=[call.pk])
                if call.recording_status == RecordingStatus.STORED
                and request.user.has_perm("calls.listen_to_recording")
                else ""
            )
            extra_context = {**(extra_context or {}), "turns": turns, "events": events, "recording_src": recording}
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description=_("call"), ordering="id")
    def short_id(self, call: Call) -> str:
        return str(call.id)[:8]

    @admin.display(description=pgettext_lazy("call moment", "created"), ordering="created_at")
    def created(self, call: Call) -> str:
        return to_the_second(call.created_at)

    @admin.display(description=pgettext_lazy("call moment", "started"))
    def started(self, call: Call) -> str:
        return to_the_second(call.started_at)

    @admin.display(description=pgettext_lazy("call moment", "answered"))
    def answered(self, call: Call) -> str:
        return to_the_second(call.answered_at)

    @admin.display(description=pgettext_lazy("call moment", "ended"))
    def ended(self, call: Call) -> str:
        return to_the_second(call.ended_at)

    @admin.display(description=_("outcome"), ordering="outcome")
    def outcome_in_words(self, call: Call) -> str:
        return outcome_words(call.outcome, humanize=False) or "–"

    @admin.display(description=_("status"), ordering="status")
    def status_line(self, call: Call) -> str:
        if call.answered_by:
            return f"{call.get_status_display()} · {call.get_answered_by_display().lower()}"
        return call.get_status_display()

    @admin.display(description=_("duration"), ordering="duration_seconds")
    def duration(self, call: Call) -> str:
        if call.duration_seconds is None:
            return "–"
        minutes, seconds = divmod(call.duration_seconds, 60)
        return f"{minutes}:{seconds:02d}"


@admin.register(CallEvent)
class CallEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("received_at", "call", "kind", "provider_event_id", "occurred_at")
    list_filter = ("kind",)
    search_fields = ("call__id", "provider_event_id")
    date_hierarchy = "received_at"
    raw_id_fields = ("call",)
    list_select_related = ("call",)


@admin.register(TranscriptTurn)
class TranscriptTurnAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("call", "index", "role", "text", "interrupted", "first_audio_heard_ms")
    list_filter = ("role", "interrupted")
    search_fields = ("call__id", "text")
    date_hierarchy = "started_at"
    raw_id_fields = ("call",)
    list_select_related = ("call",)


# The contacts page offers "Place a test call": calls may know contacts, never the reverse (DESIGN.md §1).
register_contact_action(place_test_call)
register_contact_history(contact_calls_section)
