"""Reports as work: requested by an operator (a queued row, the task enqueued on commit), built once by the
`campaigns.build_report` task with its progress on the row, and kept as two files in the default storage
(local files, or S3-compatible storage by setting) that the admin links to."""

import datetime
import logging
import tempfile
import zoneinfo

from celery import signature
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files import File
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.text import slugify

from campaigns.models import Campaign, CampaignReport
from campaigns.reports.figures import campaign_summary, report_sizes
from campaigns.reports.files import write_report

logger = logging.getLogger(__name__)
Status = CampaignReport.Status
STALE_BUILD = datetime.timedelta(hours=1)  # a build this old was lost with its worker: it may be taken again


def campaign_report_request(
    *, campaign_id: int, created_by: AbstractBaseUser | None = None, time_zone: str = ""
) -> CampaignReport:
    """Queue a report of the campaign; the build starts after the commit."""
    zone = time_zone or settings.TIME_ZONE
    zoneinfo.ZoneInfo(zone)  # an unknown zone fails here, in words, not in the worker
    report = CampaignReport.objects.create(campaign_id=campaign_id, created_by=created_by, time_zone=zone)
    transaction.on_commit(signature("campaigns.build_report", args=(report.pk,)).delay)
    return report


def _claim(report_id: int) -> bool:
    now = timezone.now()
    claimable = Q(status=Status.QUEUED) | Q(status=Status.RUNNING, started_at__lt=now - STALE_BUILD)
    return (
        CampaignReport.objects.filter(claimable, pk=report_id).update(
            status=Status.RUNNING, started_at=now, rows_done=0, error=""
        )
        == 1
    )


def campaign_report_build(*, report_id: int) -> str:
    """Build report `report_id` once; returns its final status ("" when another run has it or it is built)."""
    if not _claim(report_id):
        return ""
    report = CampaignReport.objects.select_related("campaign__agent").get(pk=report_id)
    campaign: Campaign = report.campaign
    calls, targets = report_sizes(campaign.pk)
    CampaignReport.objects.filter(pk=report_id).update(rows_total=calls + targets)

    def progress(rows: int) -> None:
        if rows:
            CampaignReport.objects.filter(pk=report_id).update(rows_done=F("rows_done") + rows)

    stamp = timezone.now()
    zone = zoneinfo.ZoneInfo(report.time_zone)
    base = f"{slug(campaign.name)}-{stamp.astimezone(zone):%Y%m%d-%H%M%S}"
    try:
        with tempfile.TemporaryFile() as workbook_file, tempfile.TemporaryFile() as archive_file:
            write_report(
                campaign=campaign, summary=campaign_summary(campaign.pk), zone=zone,
                built_at=f"{stamp.astimezone(zone):%Y-%m-%d %H:%M:%S %Z}", workbook_out=workbook_file,
                archive_out=archive_file, progress=progress,
            )  # fmt: skip
            workbook_file.seek(0)
            archive_file.seek(0)
            report.workbook.save(f"{base}.xlsx", File(workbook_file), save=False)
            report.csv_archive.save(f"{base}-csv.zip", File(archive_file), save=False)
    except Exception as error:
        logger.exception("the report %s of campaign %s failed", report_id, campaign.pk)
        CampaignReport.objects.filter(pk=report_id, status=Status.RUNNING).update(
            status=Status.FAILED, error=f"{type(error).__name__}: {error}"[:2000], finished_at=timezone.now()
        )
        return Status.FAILED
    CampaignReport.objects.filter(pk=report_id, status=Status.RUNNING).update(
        status=Status.DONE, workbook=report.workbook.name, csv_archive=report.csv_archive.name,
        rows_done=F("rows_total"), finished_at=timezone.now(),
    )  # fmt: skip
    return Status.DONE


def slug(name: str) -> str:
    return slugify(name)[:60] or "campaign"
