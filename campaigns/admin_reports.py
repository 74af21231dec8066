"""Reports in the admin: *Build a report* (an action on campaigns, and the *Reports* button on a campaign's
page), each campaign's reports page with progress bars, the *Campaign reports* list, and downloads through an
authenticated view (the files sit in the default storage, which is never served as it is)."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from campaigns.models import Campaign, CampaignReport
from campaigns.reports.build import campaign_report_request
from contacts.admin import ReadOnlyAdminMixin

FILES = {"xlsx": ("workbook", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
         "csv": ("csv_archive", "application/zip")}  # fmt: skip


def may_build_reports(request: HttpRequest) -> bool:
    return request.user.has_perm("campaigns.add_campaignreport")


@admin.action(description=_("Build a report (Excel workbook and CSV)"), permissions=["report"])
def build_reports(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Campaign]) -> None:
    for campaign in queryset:
        campaign_report_request(campaign_id=campaign.pk, created_by=request.user)
        url = reverse("admin:campaigns_campaign_reports", args=[campaign.pk])
        modeladmin.message_user(
            request, format_html(gettext("Report of “{}” queued: <a href=\"{}\">its reports</a>."), campaign, url),
            messages.SUCCESS,
        )  # fmt: skip


def reports_view(modeladmin: admin.ModelAdmin, request: HttpRequest, campaign_id: int) -> HttpResponse:
    """A campaign's reports, newest first, with progress; POST builds a new one."""
    campaign = modeladmin.get_object(request, str(campaign_id))
    if campaign is None or not request.user.has_perm("campaigns.view_campaignreport"):
        raise PermissionDenied
    if request.method == "POST":
        if not may_build_reports(request):
            raise PermissionDenied
        campaign_report_request(campaign_id=campaign.pk, created_by=request.user)
        modeladmin.message_user(
            request, gettext("Report queued: it appears below, with its progress."), messages.SUCCESS
        )
        return HttpResponseRedirect(request.path)
    reports = list(CampaignReport.objects.filter(campaign=campaign).select_related("created_by")[:20])
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.opts,
        "campaign": campaign,
        "title": gettext("Reports: %(campaign)s") % {"campaign": campaign},
        "reports": reports,
        "building": any(
            report.status in (CampaignReport.Status.QUEUED, CampaignReport.Status.RUNNING) for report in reports
        ),
        "may_build": may_build_reports(request),
    }
    return TemplateResponse(request, "admin/campaigns/campaign/reports.html", context)


def download_view(request: HttpRequest, report_id: int, kind: str) -> FileResponse:
    """A report's workbook (`xlsx`) or CSV zip (`csv`), for staff who may view reports."""
    if not request.user.has_perm("campaigns.view_campaignreport"):
        raise PermissionDenied
    if kind not in FILES:
        raise Http404(gettext("No such file kind"))
    report = get_object_or_404(CampaignReport, pk=report_id, status=CampaignReport.Status.DONE)
    field_name, content_type = FILES[kind]
    stored = getattr(report, field_name)
    if not stored:
        raise Http404(gettext("The report has no such file"))
    name = stored.name.rsplit("/", 1)[-1]
    return FileResponse(stored.open("rb"), as_attachment=True, filename=name, content_type=content_type)


def download_links(report: CampaignReport) -> str:
    if report.status != CampaignReport.Status.DONE:
        return "–"
    return format_html(
        gettext('<a href="{}">Excel workbook</a> · <a href="{}">CSV (zip)</a>'),
        reverse("admin:campaigns_campaignreport_download", args=[report.pk, "xlsx"]),
        reverse("admin:campaigns_campaignreport_download", args=[report.pk, "csv"]),
    )


@admin.register(CampaignReport)
class CampaignReportAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("campaign", "status", "progress", "files", "created_by", "created_at", "finished_at")
    list_filter = ("status", "campaign")
    search_fields = ("campaign__name",)
    list_select_related = ("campaign", "created_by")
    date_hierarchy = "created_at"
    fields = ("campaign", "status", "progress", "files", "time_zone", "error", "created_by", "created_at",
              "started_at", "finished_at")  # fmt: skip
    readonly_fields = fields

    def get_urls(self) -> list:
        from django.urls import path

        download = self.admin_site.admin_view(download_view)
        return [
            path("<int:report_id>/download/<str:kind>/", download, name="campaigns_campaignreport_download"),
            *super().get_urls(),
        ]

    @admin.display(description=_("progress"))
    def progress(self, report: CampaignReport) -> str:
        return format_html('<progress max="100" value="{}"></progress> {} %', report.percent, report.percent)

    @admin.display(description=_("files"))
    def files(self, report: CampaignReport) -> str:
        return download_links(report)
