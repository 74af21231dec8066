import datetime
import functools
import zoneinfo
from collections.abc import Callable

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from guardian.admin import ReinforcedGuardedModelAdminMixin

from calls.models import CallStatus
from calls.outcomes import outcome_words
from calls.selectors import campaign_cost_total
from campaigns import services
from campaigns.admin_reports import build_reports, may_build_reports, reports_view
from campaigns.charts import campaign_chart_data
from campaigns.contact_history import contact_targets_section
from campaigns.exceptions import CampaignError
from campaigns.forms import AgentAdminForm, CampaignAdminForm
from campaigns.integrations import admin as integrations_admin  # noqa: F401 - registers its pages
from campaigns.models import Agent, Campaign, CampaignTarget
from campaigns.selectors import campaign_preview, campaign_progress
from contacts.admin import register_contact_history
from contacts.models import Contact
from monitoring.logging import mask_phone_numbers

# Contacts offered as "Speak as" on an agent's page (the agent's {{variables}} come from the one chosen).
TALK_CONTACTS = 200


@functools.cache
def time_zone_names() -> list[str]:
    """Every IANA zone name, sorted (read once: listing them walks the tz database)."""
    return sorted(zoneinfo.available_timezones())


def preview_instant(text: str, zone_name: str) -> datetime.datetime | str | None:
    """The preview's instant: None for now; a date-time without offset read in `zone_name`; else the reason.

    A wall time the clocks skip (spring forward) is refused; one they pass twice (fall back) is the first.
    """
    if zone_name not in time_zone_names():
        return gettext("“%(zone)s” is not a time zone; choose one from the list.") % {"zone": zone_name}
    if not text:
        return None
    at = parse_datetime(text)
    if at is None:
        return gettext("“%(text)s” is not a date and time; pick one, e.g. 2026-11-24 15:00.") % {"text": text}
    if at.tzinfo is not None:
        return at
    zone = zoneinfo.ZoneInfo(zone_name)
    aware = at.replace(tzinfo=zone)
    if aware.astimezone(datetime.UTC).astimezone(zone).replace(tzinfo=None) != at:
        return gettext("%(at)s does not exist in %(zone)s: the clocks skip it. Pick another time.") % {
            "at": f"{at:%Y-%m-%d %H:%M}",
            "zone": zone_name,
        }
    return aware


def lifecycle_action(service: Callable[..., object], verb: str, done: str, description: str) -> Callable:
    """An admin action that applies one lifecycle service to each selected campaign and reports each result
    (`done` says it, with `%(campaign)s`)."""

    def action(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
        for campaign in queryset:
            try:
                service(campaign_id=campaign.pk)
            except CampaignError as error:
                modeladmin.message_user(request, str(error), messages.ERROR)
            else:
                modeladmin.message_user(request, done % {"campaign": campaign}, messages.SUCCESS)

    action.__name__ = f"{verb.replace(' ', '_')}_campaigns"
    return admin.action(description=description, permissions=["change"])(action)


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    form = AgentAdminForm
    list_display = ("name", "language", "voice_provider", "llm_model", "campaign_count", "updated_at")
    list_filter = ("voice_provider", "language")
    search_fields = ("name", "system_prompt")
    date_hierarchy = "created_at"
    fieldsets = (
        (None, {"fields": ("name", "language")}),
        (_("Script"), {"fields": ("system_prompt", "first_message", "voicemail_message", "phrases")}),
        (_("Voice"), {"fields": ("voice_provider", "voice_id", "voice_model", "voice_speed")}),
        (_("Language model"), {"fields": ("llm_model", "llm_temperature")}),
        (
            _("Tools the agent may use"),
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
        (_("Silence"), {"fields": ("silence_reprompt_seconds", "silence_hang_up_seconds")}),
        (_("After the call"), {"fields": ("outcome_schema",)}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(campaign_count=Count("campaigns"))

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None) -> HttpResponse:
        """The agent's page, with "Talk to this agent" for operators who may place test calls."""
        can_talk = request.user.has_perms(("calls.add_call", "campaigns.view_agent"))
        contacts = Contact.objects.filter(erased_at__isnull=True).order_by("last_name", "first_name")[:TALK_CONTACTS]
        extra = {"can_talk": can_talk, "talk_contacts": list(contacts) if can_talk else []}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    @admin.display(description=_("campaigns"), ordering="campaign_count")
    def campaign_count(self, agent: Agent) -> int:
        return agent.campaign_count


@admin.register(Campaign)
class CampaignAdmin(ReinforcedGuardedModelAdminMixin, admin.ModelAdmin):
    """Campaigns; *Object permissions* (django-guardian, for administrators) grants one campaign — and its
    targets and calls on the API — to a user, an integration token's user or a group."""

    form = CampaignAdminForm
    change_form_template = None  # ours (templates/admin/campaigns/campaign/), which links the grants page too
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
    readonly_fields = ("status", "progress", "charts", "activated_at", "finished_at", "created_at", "updated_at")
    actions = (
        lifecycle_action(services.campaign_launch, "launched", _("“%(campaign)s” launched."), _("Launch now")),
        lifecycle_action(
            services.campaign_schedule,
            "scheduled",
            _("“%(campaign)s” scheduled."),
            _("Schedule for its start time"),
        ),
        lifecycle_action(
            services.campaign_pause, "paused", _("“%(campaign)s” paused."), _("Pause (calls in progress finish)")
        ),
        lifecycle_action(services.campaign_resume, "resumed", _("“%(campaign)s” resumed."), _("Resume")),
        lifecycle_action(services.campaign_cancel, "cancelled", _("“%(campaign)s” cancelled."), _("Cancel")),
        build_reports,
    )
    fieldsets = (
        (None, {"fields": ("name", "status", "agent", "contact_lists", "caller_id")}),
        (_("Progress"), {"fields": ("progress",)}),
        (_("Charts"), {"fields": ("charts",)}),
        (_("Compliance"), {"fields": ("purpose", "requires_consent")}),
        (_("When"), {"fields": ("starts_at", "ends_at", "window_start", "window_end", "days_of_week")}),
        (_("Pace"), {"fields": ("max_concurrent_calls", "calls_per_second")}),
        (
            _("Attempts"),
            {
                "fields": (
                    "max_attempts",
                    "max_attempts_per_24h",
                    "max_attempts_per_7d",
                    "enforce_seven_in_seven",
                    "retry_policy",
                )
            },
        ),
        (
            _("On the call"),
            {
                "fields": (
                    "answering_machine_policy",
                    "record_calls",
                    "ring_timeout_seconds",
                    "max_call_duration_seconds",
                )
            },
        ),
        (_("After the call"), {"fields": ("dispositions",)}),
        (_("History"), {"fields": ("activated_at", "finished_at", "created_at", "updated_at")}),
    )

    def get_urls(self) -> list:
        preview = self.admin_site.admin_view(self.preview_view)
        reports = self.admin_site.admin_view(functools.partial(reports_view, self))
        return [
            path("<int:campaign_id>/preview/", preview, name="campaigns_campaign_preview"),
            path("<int:campaign_id>/reports/", reports, name="campaigns_campaign_reports"),
            *super().get_urls(),
        ]

    def has_report_permission(self, request: HttpRequest) -> bool:
        return may_build_reports(request)

    def save_related(self, request: HttpRequest, form: CampaignAdminForm, formsets: list, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        campaign = form.instance
        if campaign.status in (Campaign.Status.RUNNING, Campaign.Status.PAUSED):
            added = services.campaign_sync_targets(campaign_id=campaign.pk)  # lists added while it runs
            if added:
                self.message_user(request, f"{added} new targets from the added lists.", messages.INFO)

    def preview_view(self, request: HttpRequest, campaign_id: int) -> HttpResponse:
        """The dial preview: the same gate the dispatcher runs, at now or a chosen instant, writing nothing.

        The instant comes from a date-time picker (`at`, no offset) read in the chosen time zone (`tz`):
        the page preselects the browser's zone, and settings.TIME_ZONE without JavaScript. An ISO-8601
        instant with an offset (as the management command takes) is accepted as it is.
        """
        campaign = self.get_object(request, str(campaign_id))
        if campaign is None or not self.has_view_permission(request, campaign):
            raise PermissionDenied
        at_param = request.GET.get("at", "").strip()
        zone_name = request.GET.get("tz", "").strip() or settings.TIME_ZONE
        context = {**self.admin_site.each_context(request), "opts": self.opts, "campaign": campaign,
                   "title": gettext("Dial preview: %(campaign)s") % {"campaign": campaign},
                   "zone_name": zone_name, "zone_chosen": "tz" in request.GET,
                   "settings_time_zone": settings.TIME_ZONE,
                   "zones": time_zone_names()}  # fmt: skip
        at = preview_instant(at_param, zone_name)
        if isinstance(at, str):
            context |= {"error": at, "at_value": at_param}
            return TemplateResponse(request, "admin/campaigns/campaign/preview.html", context)
        zone = zoneinfo.ZoneInfo(zone_name)
        report = campaign_preview(campaign_id=campaign.pk, at=at)
        local_at = timezone.localtime(report.at, zone)
        contacts = Contact.objects.in_bulk([row["contact"] for row in report.would_dial_sample])
        would_dial = [
            {"contact": contacts.get(row["contact"]), "phone": mask_phone_numbers(str(row["phone"]))}
            for row in report.would_dial_sample
        ]
        not_now = [
            {"reason": reason, "targets": count, "next_allowed_at": report.next_allowed.get(reason)}
            for reason, count in report.by_reason.most_common()
        ]
        at_value = f"{local_at:%Y-%m-%dT%H:%M}" if at_param else ""
        context |= {"report": report, "local_at": local_at, "at_value": at_value, "not_now": not_now,
                    "would_dial": would_dial}  # fmt: skip
        with timezone.override(zone):  # the page's times in the chosen zone
            return TemplateResponse(request, "admin/campaigns/campaign/preview.html", context).render()

    class Media:
        # Chart.js served from the project (vendored, MIT): the campaign page's charts work offline.
        js = ("campaigns/vendor/chartjs-4.6.1/chart.umd.min.js", "campaigns/campaign_charts.js")

    @admin.display(description=_("charts"))
    def charts(self, campaign: Campaign) -> str:
        if campaign.pk is None:
            return "–"
        return render_to_string(
            "admin/campaigns/campaign/charts.html", {"chart_data": campaign_chart_data(campaign_id=campaign.pk)}
        )

    @admin.display(description=_("progress"))
    def progress(self, campaign: Campaign) -> str:
        if campaign.pk is None:
            return "–"
        progress = campaign_progress(campaign_id=campaign.pk)
        return render_to_string(
            "admin/campaigns/campaign/progress.html",
            {
                "progress": progress,
                "calls_by_status": sorted(
                    (str(CallStatus(status).label), n) for status, n in progress.calls_by_status.items()
                ),
                "preview_url": reverse("admin:campaigns_campaign_preview", args=[campaign.pk]),
                "live_url": f"{reverse('live:board')}?campaign={campaign.pk}"
                if campaign.status in (Campaign.Status.RUNNING, Campaign.Status.PAUSED)
                else "",
                "cost": campaign_cost_total(campaign_id=campaign.pk),
                "currency": settings.CALL_PRICES.get("currency", ""),
            },
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

    @admin.display(description=_("window (callee-local)"))
    def calling_window(self, campaign: Campaign) -> str:
        return f"{campaign.window_start:%H:%M}–{campaign.window_end:%H:%M}"

    @admin.display(description=_("pending"), ordering="pending_target_count")
    def pending_targets(self, campaign: Campaign) -> int:
        return campaign.pending_target_count

    @admin.display(description=_("closed"), ordering="closed_target_count")
    def closed_targets(self, campaign: Campaign) -> int:
        return campaign.closed_target_count


@admin.register(CampaignTarget)
class CampaignTargetAdmin(admin.ModelAdmin):
    list_display = ("contact", "campaign", "state", "attempts", "next_attempt_at", "outcome", "state_reason")
    list_filter = ("state", "campaign", "last_outcome")
    search_fields = ("contact__phone", "contact__first_name", "contact__last_name", "campaign__name")
    date_hierarchy = "created_at"
    list_select_related = ("contact", "campaign")
    raw_id_fields = ("contact",)
    autocomplete_fields = ("campaign",)
    readonly_fields = ("created_at", "updated_at")

    @admin.display(description=_("last outcome"), ordering="last_outcome")
    def outcome(self, target: CampaignTarget) -> str:
        """The last call's outcome in words: "Opted out", "No answer", "Callback requested"."""
        return outcome_words(target.last_outcome)


# The contact's page lists the person's places in campaigns (contacts cannot read targets itself).
register_contact_history(contact_targets_section)
