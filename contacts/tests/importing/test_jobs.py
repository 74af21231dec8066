"""The import job end to end (the Celery task runs eagerly): what each kind of row and file gets."""

import datetime

import pytest
from django.core.files.storage import default_storage

from contacts.importing import jobs
from contacts.models import Consent, Contact, ContactImportIssue, ContactList, OperatorAction, Suppression
from contacts.services import suppression_add
from contacts.tests.conftest import xlsx_bytes

pytestmark = pytest.mark.django_db

MESSY = (
    "Name,Phone,Email,Amount Due\n"
    "Ada Byron,(202) 555-0143,ada@example.com,120.00\n"  # row 2: created
    "Grace Hopper,+1 312 555 0178,,89.50\n"  # row 3: created
    "Nobody,12345,,\n"  # row 4: rejected, invalid number
    "Ada Again,202.555.0143,,\n"  # row 5: duplicate of row 2
    "Bad Mail,+44 20 7946 0958,not-an-email,\n"  # row 6: rejected, email
    "Alan Turing,+44 20 7946 0958,alan@example.com,42\n"  # row 7: created
)


def issues(job):
    return {issue.row_number: (issue.outcome, issue.reason) for issue in ContactImportIssue.objects.filter(job=job)}


def test_it_imports_good_rows_and_says_why_each_other_row_was_not(run_import, contact_list):
    job = run_import(MESSY.encode(), contact_list=contact_list)
    assert job.status == "done"
    assert (job.created_count, job.updated_count, job.skipped_count, job.rejected_count) == (3, 0, 1, 2)
    assert job.processed_rows == job.total_rows == 6
    found = issues(job)
    assert found[4][0] == "rejected"
    assert "not a valid number" in found[4][1]
    assert found[5] == ("duplicate", "Same number as row 2.")
    assert found[6] == ("rejected", "'not-an-email' is not an email address.")
    ada = Contact.objects.get(phone="+12025550143")
    assert (ada.first_name, ada.last_name, ada.email) == ("Ada", "Byron", "ada@example.com")
    assert ada.custom_fields == {"amount_due": "120.00"}
    assert (ada.country, ada.time_zone) == ("US", "America/New_York")
    assert set(contact_list.contacts.values_list("phone", flat=True)) == {"+12025550143", "+13125550178",
                                                                          "+442079460958"}  # fmt: skip


@pytest.mark.parametrize("into_list", [True, False])
def test_reimporting_the_same_file_changes_nothing(run_import, contact_list, into_list):
    # Into no list, on PostgreSQL, the new contacts are copied into contacts without being looked up first:
    # the second import's first chunk meets them there and is decided again, looking them up.
    options = {"contact_list": contact_list if into_list else None}
    run_import(MESSY.encode(), **options)
    before = list(Contact.objects.order_by("pk").values())
    again = run_import(MESSY.encode(), **options)
    assert (again.created_count, again.updated_count, again.unchanged_count) == (0, 0, 3)
    assert list(Contact.objects.order_by("pk").values()) == before


def test_an_update_overwrites_given_cells_keeps_empty_ones_and_merges_custom_fields(run_import):
    run_import(b"first name,last name,phone,email,plan\nAda,Byron,+12025550143,ada@example.com,gold\n")
    job = run_import(b"first name,phone,email,due\nAugusta,+12025550143,,2026-12-01\n")
    assert job.updated_count == 1
    ada = Contact.objects.get()
    assert (ada.first_name, ada.last_name, ada.email) == ("Augusta", "Byron", "ada@example.com")
    assert ada.custom_fields == {"plan": "gold", "due": "2026-12-01"}


def test_a_suppressed_number_is_skipped_and_not_created(run_import):
    suppression_add(phone="+13125550178", reason="asked", source=Suppression.Source.OPT_OUT)
    job = run_import(b"phone\n+13125550178\n+12025550143\n")
    assert issues(job) == {2: ("suppressed", "The number is on the do-not-call list.")}
    assert list(Contact.objects.values_list("phone", flat=True)) == ["+12025550143"]


def test_a_multi_zone_number_is_flagged_and_a_given_zone_wins(run_import):
    run_import(b"phone,timezone\n+61 491 570 156,\n+61 491 570 157,Australia/Perth\n")
    flagged, given = Contact.objects.order_by("phone")
    assert flagged.time_zone_ambiguous
    assert "Australia/Sydney" in flagged.time_zone_candidates
    assert (given.time_zone, given.time_zone_ambiguous) == ("Australia/Perth", False)


def test_an_unknown_time_zone_rejects_the_row(run_import):
    job = run_import(b"phone,tz\n+12025550143,Mars/Olympus\n")
    assert "not an IANA time zone" in issues(job)[2][1]


def test_a_lists_column_adds_to_lists_creating_them(run_import, contact_list):
    run_import(b"phone,lists\n+12025550143,VIP; Late payers\n", contact_list=contact_list)
    ada = Contact.objects.get()
    assert set(ada.lists.values_list("name", flat=True)) == {"Customers", "VIP", "Late payers"}


def test_reimporting_into_another_list_only_adds_the_membership(run_import, contact_list):
    run_import(b"phone\n+12025550143\n", contact_list=contact_list)
    other = ContactList.objects.create(name="Survey")
    job = run_import(b"phone\n+12025550143\n", contact_list=other)
    assert job.updated_count == 1
    assert set(Contact.objects.get().lists.values_list("name", flat=True)) == {"Customers", "Survey"}


def test_consent_columns_record_consent_once(run_import):
    data = b"phone,consent,consent source,consent date\n+12025550143,informational,web form,2026-01-05\n"
    run_import(data)
    again = run_import(data)
    consent = Consent.objects.get()
    assert (consent.purpose, consent.source) == ("informational", "web form")
    assert consent.given_at == datetime.datetime(2026, 1, 5, tzinfo=datetime.UTC)
    assert again.unchanged_count == 1


def test_a_consent_revocation_in_a_later_file_updates_the_consent(run_import):
    run_import(b"phone,consent,consent date\n+12025550143,yes,2026-01-05\n")
    run_import(b"phone,consent,consent date,consent revoked at\n+12025550143,yes,2026-01-05,2026-02-01\n")
    assert Consent.objects.get().revoked_at == datetime.datetime(2026, 2, 1, tzinfo=datetime.UTC)


def test_an_unreadable_consent_date_rejects_the_row(run_import):
    job = run_import(b"phone,consent,consent date\n+12025550143,yes,05/01/2026\n")
    assert "not a date; use YYYY-MM-DD" in issues(job)[2][1]
    assert not Contact.objects.exists()


# ---- bad files ------------------------------------------------------------------------------


def test_a_latin1_file_imports_names_with_accents(run_import):
    run_import("name;phone\nZoë Müller;+33 6 12 34 56 78\n".encode("latin-1"))
    assert Contact.objects.get().first_name == "Zoë"


def test_a_utf8_file_with_a_bom_finds_its_phone_column(run_import):
    job = run_import("\ufeffphone,name\n+12025550143,Ada\n".encode())
    assert job.created_count == 1


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_semicolon_and_tab_separated_files_import(run_import, delimiter):
    job = run_import(f"name{delimiter}phone\nAda{delimiter}+12025550143\n".encode())
    assert job.created_count == 1


def test_a_file_without_a_phone_column_fails_before_any_row_is_written(run_import):
    job = run_import(b"name,email\nAda,ada@example.com\n")
    assert job.status == "failed"
    assert job.error.startswith("No phone column")
    assert not Contact.objects.exists()
    assert not ContactImportIssue.objects.exists()


def test_an_empty_file_fails_saying_it_is_empty(run_import):
    job = run_import(b"")
    assert (job.status, job.error) == ("failed", "The file is empty.")


def test_duplicated_headers_import_with_the_first_column_and_a_warning(run_import):
    job = run_import(b"phone,name,phone\n+12025550143,Ada,+13125550178\n")
    assert job.created_count == 1
    assert Contact.objects.get().phone == "+12025550143"
    assert any("repeats column 1" in warning for warning in job.warnings)


def test_blank_lines_are_ignored_and_reported(run_import):
    job = run_import(b"phone\n\n+12025550143\n\n\n+13125550178\n")
    assert job.created_count == 2
    assert "3 blank rows were ignored." in job.warnings


def test_an_xlsx_with_several_sheets_imports_the_first_by_default(run_import):
    data = xlsx_bytes(
        {"Contacts": [["Phone", "Name"], [4155550123, "Grace"]], "Archive": [["Phone"], ["+12025550143"]]}
    )
    job = run_import(data, file_format="xlsx", name="book.xlsx")
    assert job.created_count == 1
    assert Contact.objects.get().phone == "+14155550123"


def test_an_xlsx_imports_the_sheet_chosen(run_import):
    data = xlsx_bytes({"Contacts": [["Phone"], [4155550123]], "Archive": [["Phone"], ["+12025550143"]]})
    run_import(data, file_format="xlsx", name="book.xlsx", sheet="Archive")
    assert Contact.objects.get().phone == "+12025550143"


def test_a_row_with_500_columns_is_rejected_and_the_others_imported(run_import):
    wide = "+13125550178," + ",".join(f"x{i}" for i in range(499))
    job = run_import(f"phone,name\n+12025550143,Ada\n{wide}\n+14155550123,Grace\n".encode())
    assert job.created_count == 2
    outcome, reason = issues(job)[3]
    assert outcome == "rejected"
    assert reason.startswith("The row has 500 cells but the header has 2 columns")


def test_a_header_of_500_columns_keeps_each_as_a_custom_field(run_import):
    header = "phone," + ",".join(f"col{i}" for i in range(499))
    row = "+12025550143," + ",".join(str(i) for i in range(499))
    run_import(f"{header}\n{row}\n".encode())
    assert len(Contact.objects.get().custom_fields) == 499


def test_a_file_over_the_size_limit_fails_with_the_limit(run_import, settings):
    settings.CONTACT_IMPORT_MAX_FILE_MB = 0
    job = run_import(b"phone\n+12025550143\n")
    assert job.status == "failed"
    assert "the limit is 0 MB" in job.error


# ---- the job itself ---------------------------------------------------------------------------


def test_the_file_is_deleted_from_storage_when_the_job_ends(run_import):
    job = run_import(b"phone\n+12025550143\n")
    assert not default_storage.exists(job.file_name)


def test_a_job_runs_once_however_often_its_task_is_delivered(run_import):
    job = run_import(b"phone\n+12025550143\n")
    assert jobs.contact_import_job_execute(job_id=job.pk) is None
    assert Contact.objects.count() == 1


def test_the_import_is_recorded_in_the_audit_log(run_import, admin_user):
    job = run_import(b"phone\n+12025550143\n", created_by=admin_user)
    entry = OperatorAction.objects.get(action="import")
    assert (entry.actor, entry.target_id) == (admin_user, str(job.pk))


def test_reading_in_chunk_tasks_gives_the_same_result_as_inline(run_import, monkeypatch, settings):
    monkeypatch.setattr(jobs, "PARALLEL_MIN_ROWS", 1)
    monkeypatch.setattr(jobs, "CHUNK_ROWS", 2)
    settings.CONTACT_IMPORT_PARSE_WORKERS = 2
    job = run_import(MESSY.encode())
    assert (job.created_count, job.skipped_count, job.rejected_count) == (3, 1, 2)
    assert issues(job)[5] == ("duplicate", "Same number as row 2.")


def test_good_rows_spread_over_several_chunks_are_all_imported(run_import, monkeypatch):
    monkeypatch.setattr(jobs, "CHUNK_ROWS", 3)
    rows = "".join(f"+1202555{i:04d}\n" for i in range(100, 130)) + "+12025550100\n"
    job = run_import(("phone\n" + rows).encode())
    assert (job.created_count, job.skipped_count) == (30, 1)
    assert Contact.objects.count() == 30


def test_with_several_reading_processes_the_last_chunks_are_smaller():
    rows = [(number, ["+12025550100"]) for number in range(2, 100_002)]
    sizes = [len(chunk) for chunk in jobs.chunks_of(iter(rows), total=100_001, workers=2)]
    assert sizes[:17] == [jobs.CHUNK_ROWS] * 17  # until a 4th of the rows left fit in one chunk
    assert sizes[:-1] == sorted(sizes[:-1], reverse=True)
    assert min(sizes[:-1]) == jobs.MIN_CHUNK_ROWS
    assert len(sizes) < 30
    assert [row for chunk in jobs.chunks_of(iter(rows), total=100_001, workers=2) for row in chunk] == rows
    assert {len(chunk) for chunk in jobs.chunks_of(iter(rows), total=100_001, workers=1)} == {jobs.CHUNK_ROWS}


def test_premium_rate_and_shared_cost_numbers_are_rejected_saying_why(run_import):
    from phonenumbers import PhoneNumberFormat, PhoneNumberType, example_number_for_type, format_number

    premium = format_number(example_number_for_type("US", PhoneNumberType.PREMIUM_RATE), PhoneNumberFormat.E164)
    shared = format_number(example_number_for_type("FR", PhoneNumberType.SHARED_COST), PhoneNumberFormat.E164)
    job = run_import(f"phone\n{premium}\n{shared}\n+12025550143\n".encode())
    assert (job.created_count, job.rejected_count) == (1, 2)
    assert issues(job)[2] == (
        "rejected",
        "+1 900-234-5678 is a premium-rate number; calling it is charged at a premium rate, so it is refused "
        "(setting CONTACT_REFUSED_NUMBER_TYPES).",
    )
    assert issues(job)[3] == (
        "rejected",
        "+33 884 01 23 45 is a shared-cost number; calling it costs more than a normal call, so it is refused "
        "(setting CONTACT_REFUSED_NUMBER_TYPES).",
    )
    assert list(Contact.objects.values_list("phone", flat=True)) == ["+12025550143"]


def test_the_refused_number_types_follow_the_setting(run_import, settings):
    settings.CONTACT_REFUSED_NUMBER_TYPES = []
    job = run_import(b"phone\n+1 900 234 5678\n")
    assert (job.created_count, job.rejected_count) == (1, 0)


@pytest.mark.parametrize(
    ("header", "row", "expected"),
    [
        ("name,phone", "Spaces,+442079460958", ("Spaces", "")),  # a one-word name: no "Spaces Turing"
        ("first name,last name,phone", "Spaces,,+442079460958", ("Spaces", "")),
        ("first name,phone", "Spaces,+442079460958", ("Spaces", "Turing")),  # the file gives only first names
        ("name,phone", ",+442079460958", ("Alan", "Turing")),  # no name in the row: the stored one stays
    ],
)
def test_a_name_given_whole_replaces_the_stored_name_whole(run_import, header, row, expected):
    run_import(b"name,phone\nAlan Turing,+442079460958\n")
    job = run_import(f"{header}\n{row}\n".encode())
    alan = Contact.objects.get()
    assert (alan.first_name, alan.last_name) == expected
    assert (job.updated_count, job.unchanged_count) == ((1, 0) if expected != ("Alan", "Turing") else (0, 1))
