"""Calls are records of what happened: the admin shows them, it never edits them."""

from django.contrib import admin

from calls.admin_actions import place_test_call
from calls.models import Call, CallEvent, TranscriptTurn
from contacts.admin import ReadOnlyAdminMixin, register_contact_action


class CallEventInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = CallEvent
    fields = ("received_at", "kind", "provider_event_id", "occurred_at", "payload")
    readonly_fields = fields
    extra = 0


class TranscriptTurnInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = TranscriptTurn
    fields = (
        "index",
        "role",
        "text",
        "interrupted",
        "stt_final_ms",
        "llm_first_token_ms",
        "tts_first_byte_ms",
        "first_audio_sent_ms",
        "first_audio_heard_ms",
    )
    readonly_fields = fields
    extra = 0


@admin.register(Call)
class CallAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "short_id",
        "contact",
        "campaign",
        "status",
        "answered_by",
        "duration_seconds",
        "outcome",
        "provider",
        "created_at",
    )
    list_filter = ("status", "answered_by", "direction", "provider", "campaign")
    search_fields = ("id", "provider_call_id", "to_phone", "contact__first_name", "contact__last_name", "outcome")
    date_hierarchy = "created_at"
    list_select_related = ("contact", "campaign")
    inlines = (CallEventInline, TranscriptTurnInline)
    fieldsets = (
        (None, {"fields": ("id", "status", "direction", "contact", "campaign", "agent", "target")}),
        (
            "Telephony",
            {"fields": ("provider", "provider_call_id", "to_phone", "from_phone", "answered_by", "failure_reason")},
        ),
        ("Timing", {"fields": ("created_at", "started_at", "answered_at", "ended_at", "duration_seconds")}),
        ("Cost and recording", {"fields": ("price", "price_unit", "recording_url")}),
        ("Outcome", {"fields": ("outcome", "summary", "sentiment", "extracted_data", "latency_stats")}),
    )

    @admin.display(description="call", ordering="id")
    def short_id(self, call: Call) -> str:
        return str(call.id)[:8]


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
