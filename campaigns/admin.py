from django.contrib import admin
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest

from campaigns.forms import CampaignAdminForm
from campaigns.models import Agent, Campaign, CampaignTarget


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    list_display = ("name", "language", "voice_provider", "llm_model", "campaign_count", "updated_at")
    list_filter = ("voice_provider", "language")
    search_fields = ("name", "system_prompt")
    date_hierarchy = "created_at"
    fieldsets = (
        (None, {"fields": ("name", "language")}),
        ("Script", {"fields": ("system_prompt", "first_message", "voicemail_message")}),
        ("Voice", {"fields": ("voice_provider", "voice_id", "voice_model", "voice_speed")}),
        ("Language model", {"fields": ("llm_model", "llm_temperature")}),
        (
            "Tools the agent may use",
            {
                "fields": (
                    "can_end_call",
                    "can_opt_out",
                    "can_transfer",
                    "transfer_number",
                    "can_record_outcome",
                    "can_schedule_callback",
                )
            },
        ),
        ("After the call", {"fields": ("outcome_schema",)}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(campaign_count=Count("campaigns"))

    @admin.display(description="campaigns", ordering="campaign_count")
    def campaign_count(self, agent: Agent) -> int:
        return agent.campaign_count


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    form = CampaignAdminForm
    list_display = (
        "name",
        "status",
        "agent",
        "purpose",
        "calling_window",
        "max_concurrent_calls",
        "calls_per_second",
        "pending_targets",
        "closed_targets",
        "starts_at",
    )
    list_filter = ("status", "purpose", "agent")
    search_fields = ("name",)
    date_hierarchy = "created_at"
    list_select_related = ("agent",)
    autocomplete_fields = ("agent",)
    filter_horizontal = ("contact_lists",)
    # Status moves only through the lifecycle services (launch, pause, resume, cancel).
    readonly_fields = ("status", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "status", "agent", "contact_lists", "caller_id")}),
        ("Compliance", {"fields": ("purpose", "requires_consent")}),
        ("When", {"fields": ("starts_at", "ends_at", "window_start", "window_end", "days_of_week")}),
        ("Pace", {"fields": ("max_concurrent_calls", "calls_per_second")}),
        ("Attempts", {"fields": ("max_attempts", "max_attempts_per_24h", "max_attempts_per_7d", "retry_policy")}),
        (
            "On the call",
            {
                "fields": (
                    "answering_machine_policy",
                    "record_calls",
                    "ring_timeout_seconds",
                    "max_call_duration_seconds",
                )
            },
        ),
        ("History", {"fields": ("created_at", "updated_at")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        closed = [
            CampaignTarget.State.DONE,
            CampaignTarget.State.EXHAUSTED,
            CampaignTarget.State.SUPPRESSED,
            CampaignTarget.State.SKIPPED,
        ]
        return (
            super()
            .get_queryset(request)
            .annotate(
                pending_target_count=Count("targets", filter=Q(targets__state=CampaignTarget.State.PENDING)),
                closed_target_count=Count("targets", filter=Q(targets__state__in=closed)),
            )
        )

    @admin.display(description="window (callee-local)")
    def calling_window(self, campaign: Campaign) -> str:
        return f"{campaign.window_start:%H:%M}–{campaign.window_end:%H:%M}"

    @admin.display(description="pending", ordering="pending_target_count")
    def pending_targets(self, campaign: Campaign) -> int:
        return campaign.pending_target_count

    @admin.display(description="closed", ordering="closed_target_count")
    def closed_targets(self, campaign: Campaign) -> int:
        return campaign.closed_target_count


@admin.register(CampaignTarget)
class CampaignTargetAdmin(admin.ModelAdmin):
    list_display = ("contact", "campaign", "state", "attempts", "next_attempt_at", "last_outcome", "state_reason")
    list_filter = ("state", "campaign", "last_outcome")
    search_fields = ("contact__phone", "contact__first_name", "contact__last_name", "campaign__name")
    date_hierarchy = "created_at"
    list_select_related = ("contact", "campaign")
    raw_id_fields = ("contact",)
    autocomplete_fields = ("campaign",)
    readonly_fields = ("created_at", "updated_at")
