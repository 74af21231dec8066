"""A campaign's report: the workbook opened with openpyxl and checked cell by cell against the calls table,
the heatmap against a SQL aggregate, the CSV zip against the workbook, and the build's progress and storage."""

import csv
import datetime
import io
import zipfile
from decimal import Decimal

import pytest
from django.db import connection
from openpyxl import load_workbook

from calls.models import Call, CallStatus, TranscriptTurn
from campaigns.models import CampaignReport, CampaignTarget
from campaigns.reports.build import campaign_report_build, campaign_report_request
from campaigns.reports.figures import percentile
from contacts.models import Contact

UTC = datetime.UTC
SCHEMA = {"type": "object", "properties": {"will_pay": {"type": "boolean"}, "amount": {"type": "number"}}}
START = datetime.datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    settings.TIME_ZONE = "UTC"
    return tmp_path


@pytest.fixture
def seeded(agent, campaign):
    """Six contacts, each called a few times at known instants, with known outcomes and latencies."""
    agent.outcome_schema = SCHEMA
    agent.save()
    plans = [  # per contact: (hours after START, status, answered_by, duration, price, disposition, extracted)
        [
            (0, "busy", "", None, None, "", {}),
            (26, "completed", "human", 61, "-0.0130", "agreed", {"will_pay": True, "amount": 120.5}),
        ],
        [(1, "no_answer", "", None, None, "", {}), (2, "no_answer", "", None, None, "", {})],
        [(3, "completed", "machine_end_beep", 20, "-0.0085", "voicemail", {})],
        [(3, "completed", "human", 35, "-0.0100", "wrong_number", {}), (50, "failed", "", None, None, "", {})],
        [(74, "completed", "unknown", 90, "-0.0200", "callback_requested", {"will_pay": False})],
        [(75, "canceled", "", None, None, "", {})],  # withdrawn before it was placed: no attempt
    ]
    states = ["done", "exhausted", "pending", "skipped", "pending", "pending"]
    calls = []
    for number, (plan, state) in enumerate(zip(plans, states, strict=True)):
        contact = Contact.objects.create(first_name=f"Person{number}", last_name="Test",
                                         phone=f"+1202555{number:04d}", time_zone="America/New_York")  # fmt: skip
        target = CampaignTarget.objects.create(campaign=campaign, contact=contact, state=state, attempts=len(plan),
                                               last_outcome="answered")  # fmt: skip
        for hours, status, answered_by, duration, price, disposition, extracted in plan:
            placed = START + datetime.timedelta(hours=hours)
            call = Call.objects.create(
                contact=contact, campaign=campaign, agent=agent, target=target, to_phone=contact.phone,
                provider="simulated", status=status, answered_by=answered_by, duration_seconds=duration,
                price=Decimal(price) if price else None, price_unit="USD" if price else "", disposition=disposition,
                summary=f"=HYPERLINK(\"http://evil\") said {number}" if disposition else "",
                extracted_data=extracted, sentiment="neutral" if disposition else "",
                started_at=None if status == "canceled" else placed,
                answered_at=placed if status == "completed" else None,
                ended_at=placed + datetime.timedelta(seconds=duration or 5),
            )  # fmt: skip
            Call.objects.filter(pk=call.pk).update(created_at=placed - datetime.timedelta(seconds=1))
            calls.append(call)
    answered = [call for call in calls if call.status == "completed"]
    for call_number, call in enumerate(answered):
        TranscriptTurn.objects.bulk_create([
            TranscriptTurn(call=call, index=0, role="agent", text="Hello", first_audio_heard_ms=5000),  # opener
            TranscriptTurn(call=call, index=1, role="contact", text="Hi"),
            TranscriptTurn(call=call, index=2, role="agent", text="Fine", first_audio_heard_ms=700 + 100 * call_number,
                           first_audio_sent_ms=400 + 10 * call_number),
        ])  # fmt: skip
    return campaign


def build(campaign, django_capture_on_commit_callbacks) -> CampaignReport:
    with django_capture_on_commit_callbacks(execute=True):
        report = campaign_report_request(campaign_id=campaign.pk, time_zone="UTC")
    report.refresh_from_db()
    return report


def rows_of(sheet) -> list[list[object]]:
    """The sheet's rows, each as long as the widest (a blank row reads as Nones)."""
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    width = max((len(row) for row in rows), default=0)
    return [row + [None] * (width - len(row)) for row in rows]


def summary_values(sheet) -> dict[str, object]:
    return {row[0]: row[1] for row in rows_of(sheet) if row[0]}


def test_the_report_is_built_stored_and_its_progress_complete(media, seeded, django_capture_on_commit_callbacks):
    report = build(seeded, django_capture_on_commit_callbacks)

    assert report.status == CampaignReport.Status.DONE
    assert (report.rows_done, report.rows_total, report.percent) == (15, 15, 100)  # 9 calls + 6 targets
    assert report.workbook.name.endswith(".xlsx")
    assert (media / report.workbook.name).exists()
    assert (media / report.csv_archive.name).exists()
    assert campaign_report_build(report_id=report.pk) == ""  # built once


def test_the_summary_equals_the_calls_table(media, seeded, django_capture_on_commit_callbacks):
    report = build(seeded, django_capture_on_commit_callbacks)
    workbook = load_workbook(report.workbook.path, read_only=True)
    assert workbook.sheetnames == ["Summary", "Contacts", "Heatmap", "Calls"]
    values = summary_values(workbook["Summary"])

    calls = Call.objects.filter(campaign=seeded)
    placed = calls.exclude(started_at=None)
    answered = placed.filter(status=CallStatus.COMPLETED)
    assert values["Call records"] == calls.count() == 9
    assert values["Attempts (placed with the carrier)"] == placed.count() == 8
    assert values["Connected (answered)"] == answered.count() == 4
    assert values["Connect rate"] == pytest.approx(answered.count() / placed.count())
    assert values["Answered by a person"] == answered.filter(answered_by__in=["human", "unknown", ""]).count() == 3
    assert values["Answered by a machine"] == 1
    durations = list(answered.values_list("duration_seconds", flat=True))
    assert values["Average duration of answered calls (s)"] == pytest.approx(round(sum(durations) / len(durations), 1))
    assert values["No answer"] == calls.filter(status="no_answer").count() == 2
    assert values["agreed"] == 1
    assert values["wrong_number"] == 1
    assert values["Pending"] == 3
    rows = rows_of(workbook["Summary"])
    price_row = next(row for row in rows if row[0] == "simulated" and row[1] == "USD")
    assert price_row[2] == pytest.approx(float(sum(call.price for call in calls if call.price is not None)))
    assert price_row[3] == 4
    heard = sorted(TranscriptTurn.objects.filter(call__campaign=seeded, role="agent", index__gt=0)
                   .values_list("first_audio_heard_ms", flat=True))  # fmt: skip
    latency_row = next(row for row in rows if row[0] == "first audio heard")
    assert latency_row[1:4] == [4, percentile(heard, 0.5), percentile(heard, 0.95)]
    assert latency_row[1:4] == [4, 800, 1000]  # the opener's 5,000 ms is not a reply


def test_the_contacts_sheet_has_each_targets_final_state_and_extracted_fields(
    media, seeded, django_capture_on_commit_callbacks
):
    report = build(seeded, django_capture_on_commit_callbacks)
    rows = rows_of(load_workbook(report.workbook.path, read_only=True)["Contacts"])

    header, body = rows[0], rows[1:]
    assert header[-2:] == ["amount", "will_pay"]  # none required: by name
    targets = list(CampaignTarget.objects.filter(campaign=seeded).select_related("contact").order_by("id"))
    assert len(body) == len(targets) == 6
    for row, target in zip(body, targets, strict=True):
        record = dict(zip(header, row, strict=True))
        assert record["Phone"] == target.contact.phone
        assert record["Final state"] == target.get_state_display()
        assert record["Attempts"] == target.attempts
        assert record["Calls"] == Call.objects.filter(target=target).count()
        last = Call.objects.filter(target=target).order_by("-created_at").first()
        assert record["Last call at"] == last.created_at.astimezone(UTC).replace(tzinfo=None)
        assert record["Last call status"] == last.get_status_display()
    first = dict(zip(header, body[0], strict=True))
    assert (first["will_pay"], first["amount"], first["Disposition"]) == (True, 120.5, "agreed")
    assert first["Summary"].startswith("'=HYPERLINK")  # a callee's formula is shown, never run


def test_the_calls_sheet_matches_the_calls_table_cell_by_cell(media, seeded, django_capture_on_commit_callbacks):
    report = build(seeded, django_capture_on_commit_callbacks)
    rows = rows_of(load_workbook(report.workbook.path, read_only=True)["Calls"])
    header, body = rows[0], rows[1:]

    calls = list(Call.objects.filter(campaign=seeded).order_by("created_at", "id"))
    assert len(body) == len(calls)
    for row, call in zip(body, calls, strict=True):
        record = dict(zip(header, row, strict=True))
        assert record["Call"] == str(call.id)
        assert record["Status"] == call.get_status_display()
        assert record["Duration (s)"] == call.duration_seconds
        assert record["Carrier price"] == (float(call.price) if call.price is not None else None)
        assert record["Disposition"] == (call.disposition or None)
        assert record["Number dialled"] == call.to_phone
        assert record["Placed"] == (call.started_at.replace(tzinfo=None) if call.started_at else None)
        assert record["will_pay"] == call.extracted_data.get("will_pay")


def test_the_heatmap_equals_a_sql_aggregate(media, seeded, django_capture_on_commit_callbacks):
    report = build(seeded, django_capture_on_commit_callbacks)
    rows = rows_of(load_workbook(report.workbook.path, read_only=True)["Heatmap"])
    rates = {(weekday, hour): rows[2 + hour][weekday] for hour in range(24) for weekday in range(1, 8)}
    placed_counts = {(weekday, hour): rows[28 + hour][weekday] for hour in range(24) for weekday in range(1, 8)}

    if connection.vendor == "postgresql":
        sql = """SELECT EXTRACT(ISODOW FROM started_at AT TIME ZONE 'UTC')::int,
                        EXTRACT(HOUR FROM started_at AT TIME ZONE 'UTC')::int,
                        COUNT(*), SUM(CASE WHEN status = 'completed' THEN 1 ELSE 0 END)
                 FROM calls_call WHERE campaign_id = %s AND started_at IS NOT NULL GROUP BY 1, 2"""
    else:
        sql = """SELECT CASE strftime('%%w', started_at) WHEN '0' THEN 7 ELSE CAST(strftime('%%w', started_at) AS int) END,
                        CAST(strftime('%%H', started_at) AS int),
                        COUNT(*), SUM(CASE WHEN status = 'completed' THEN 1 ELSE 0 END)
                 FROM calls_call WHERE campaign_id = %s AND started_at IS NOT NULL GROUP BY 1, 2"""  # noqa: E501
    with connection.cursor() as cursor:
        cursor.execute(sql, [seeded.pk])
        expected = {(weekday, hour): (placed, connected) for weekday, hour, placed, connected in cursor.fetchall()}

    assert len(expected) == 7
    for key in rates:
        placed, connected = expected.get(key, (0, 0))
        assert placed_counts[key] == placed
        assert rates[key] == (pytest.approx(connected / placed) if placed else None)
    assert rates[(1, 9)] == 0  # Monday 09:00: busy
    assert rates[(1, 12)] == 1  # Monday 12:00: a voicemail and a person, both answered
    assert rates[(1, 10)] == 0  # Monday 10:00: no answer


def test_the_csv_zip_holds_the_same_rows(media, seeded, django_capture_on_commit_callbacks):
    report = build(seeded, django_capture_on_commit_callbacks)
    workbook = load_workbook(report.workbook.path, read_only=True)

    with zipfile.ZipFile(report.csv_archive.path) as archive:
        assert sorted(archive.namelist()) == ["calls.csv", "contacts.csv", "heatmap.csv", "summary.csv"]
        for name in ("Calls", "Contacts"):
            text = archive.read(f"{name.lower()}.csv").decode("utf-8-sig")
            csv_rows = list(csv.reader(io.StringIO(text)))
            sheet_rows = rows_of(workbook[name])
            assert len(csv_rows) == len(sheet_rows)
            assert csv_rows[0] == sheet_rows[0]
            assert [row[0] for row in csv_rows] == [str(row[0]) if row[0] is not None else "" for row in sheet_rows]


def test_a_report_of_a_campaign_without_calls_is_built(media, campaign, django_capture_on_commit_callbacks):
    report = build(campaign, django_capture_on_commit_callbacks)

    assert report.status == CampaignReport.Status.DONE
    values = summary_values(load_workbook(report.workbook.path, read_only=True)["Summary"])
    assert values["Call records"] == 0
    assert values["Connect rate"] is None


def test_percentiles_are_nearest_rank():
    assert percentile(list(range(1, 11)), 0.5) == 5
    assert percentile(list(range(1, 11)), 0.95) == 10
    assert percentile([], 0.5) is None


def test_an_operator_builds_a_report_from_the_campaign_page_and_downloads_it(
    media, seeded, admin_client, django_capture_on_commit_callbacks
):
    page = admin_client.get(f"/admin/campaigns/campaign/{seeded.pk}/change/").content.decode()
    assert f'href="/admin/campaigns/campaign/{seeded.pk}/reports/"' in page

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(f"/admin/campaigns/campaign/{seeded.pk}/reports/", follow=True)
    assert "Report queued" in response.content.decode()
    assert 'http-equiv="refresh"' in response.content.decode()  # it reloads while the report is built
    listing = admin_client.get(f"/admin/campaigns/campaign/{seeded.pk}/reports/").content.decode()
    report = CampaignReport.objects.get(campaign=seeded)
    assert f"/admin/campaigns/campaignreport/{report.pk}/download/xlsx/" in listing
    assert 'http-equiv="refresh"' not in listing

    download = admin_client.get(f"/admin/campaigns/campaignreport/{report.pk}/download/xlsx/")
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith('attachment; filename="reminders-')
    workbook = load_workbook(io.BytesIO(b"".join(download.streaming_content)), read_only=True)
    assert workbook.sheetnames == ["Summary", "Contacts", "Heatmap", "Calls"]


def test_the_list_action_queues_a_report(media, seeded, admin_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/campaigns/campaign/", {"action": "build_reports", "_selected_action": [seeded.pk]}, follow=True
        )

    assert "queued" in response.content.decode()
    assert CampaignReport.objects.get(campaign=seeded).status == CampaignReport.Status.DONE


def test_a_report_is_not_served_to_staff_who_may_not_view_reports(
    media, seeded, client, django_user_model, django_capture_on_commit_callbacks
):
    report = build(seeded, django_capture_on_commit_callbacks)
    clerk = django_user_model.objects.create_user(username="clerk", password="pw", is_staff=True)
    client.force_login(clerk)

    assert client.get(f"/admin/campaigns/campaignreport/{report.pk}/download/xlsx/").status_code == 403
    client.logout()
    anonymous = client.get(f"/admin/campaigns/campaignreport/{report.pk}/download/xlsx/")
    assert anonymous.status_code == 302  # to the login page
