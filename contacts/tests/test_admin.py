"""The operator's flows in the admin, through Django's test client."""

import csv
import io
import json

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from conftest import grant
from contacts.models import Contact, ContactImportJob, OperatorAction, Suppression
from contacts.services import suppression_add
from contacts.tests.conftest import xlsx_bytes

pytestmark = pytest.mark.django_db

IMPORT_URL = reverse("admin:contacts_contact_import")
PROCESS_URL = reverse("admin:contacts_contact_process_import")
FORMAT_CSV, FORMAT_XLSX = "0", "1"


def upload(client, data: bytes, name: str = "contacts.csv", file_format: str = FORMAT_CSV, **fields):
    return client.post(
        IMPORT_URL, {"import_file": SimpleUploadedFile(name, data), "format": file_format, "resource": "0", **fields}
    )


def confirm(client, preview_response):
    form = preview_response.context["confirm_form"]
    data = {name: value for name, value in form.initial.items() if value is not None}
    return client.post(PROCESS_URL, data)


def test_the_preview_shows_what_each_row_will_get_and_writes_nothing(admin_client, contact_list):
    suppression_add(phone="+14155550123", reason="asked", source=Suppression.Source.OPT_OUT)
    data = b"Name,Phone\nAda,(202) 555-0143\nNobody,12345\nAda again,202-555-0143\nGrace,415 555 0123\n"
    response = upload(admin_client, data, contact_list=contact_list.pk)
    assert response.status_code == 200
    preview = response.context["result"].preview
    assert [(d.row_number, d.outcome.value) for d in preview.decisions] == [
        (2, "create"), (3, "rejected"), (4, "duplicate"), (5, "suppressed"),
    ]  # fmt: skip
    page = response.content.decode()
    assert "Same number as row 2." in page
    assert "The number is on the do-not-call list." in page
    assert "is not a valid number" in page
    assert not Contact.objects.exists()


def test_confirming_runs_the_import_job_and_shows_its_progress_page(
    admin_client, contact_list, django_capture_on_commit_callbacks
):
    preview = upload(admin_client, b"Name,Phone\nAda,(202) 555-0143\nNobody,12345\n", contact_list=contact_list.pk)
    with django_capture_on_commit_callbacks(execute=True):
        response = confirm(admin_client, preview)
    job = ContactImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:contacts_contactimportjob_change", args=[job.pk])
    job.refresh_from_db()
    assert (job.status, job.created_count, job.rejected_count, job.contact_list) == ("done", 1, 1, contact_list)
    page = admin_client.get(response["Location"]).content.decode()
    assert 'id="import-bar"' in page
    assert "Download the rows not imported" in page
    progress = admin_client.get(reverse("admin:contacts_contactimportjob_progress", args=[job.pk])).json()
    assert (progress["status"], progress["percent"], progress["created"], progress["rejected"]) == ("done", 100, 1, 1)


def test_the_rows_not_imported_download_with_their_reason_and_formulas_neutralised(admin_client, run_import):
    job = run_import(b'name,phone\n=HYPERLINK("http://evil"),12345\n')
    response = admin_client.get(reverse("admin:contacts_contactimportjob_issues", args=[job.pk]))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0][:3] == ["row", "outcome", "reason"]
    assert rows[1][0] == "2"
    assert "not a valid number" in rows[1][2]
    assert rows[1][3] == '\'=HYPERLINK("http://evil")'


def test_a_file_without_phone_column_gets_a_clear_error_on_the_upload_form(admin_client):
    response = upload(admin_client, b"name,email\nAda,ada@example.com\n")
    assert "No phone column" in response.content.decode()
    assert "confirm_form" not in response.context
    assert not ContactImportJob.objects.exists()


def test_an_empty_upload_gets_a_clear_error(admin_client):
    response = upload(admin_client, b"   \n")
    assert "The file is empty." in response.content.decode()


def test_an_upload_over_the_size_limit_is_refused_before_it_is_read(admin_client, settings):
    settings.CONTACT_IMPORT_MAX_FILE_MB = 0
    response = upload(admin_client, b"phone\n+12025550143\n")
    assert "the limit is 0 MB" in response.content.decode()


def test_the_sheet_chosen_on_the_upload_form_is_previewed_and_imported(
    admin_client, django_capture_on_commit_callbacks
):
    data = xlsx_bytes({"Old": [["Phone"], ["+13125550178"]], "Current": [["Phone"], [4155550123]]})
    preview = upload(admin_client, data, name="book.xlsx", file_format=FORMAT_XLSX, sheet="Current")
    assert [d.phone for d in preview.context["result"].preview.decisions] == ["+14155550123"]
    with django_capture_on_commit_callbacks(execute=True):
        confirm(admin_client, preview)
    assert list(Contact.objects.values_list("phone", flat=True)) == ["+14155550123"]


def test_the_progress_endpoint_is_for_staff_with_permission_only(client, django_user_model, run_import):
    job = run_import(b"phone\n+12025550143\n")
    url = reverse("admin:contacts_contactimportjob_progress", args=[job.pk])
    assert client.get(url).status_code == 302  # anonymous: to the login page
    clerk = django_user_model.objects.create_user(username="clerk", password="pw", is_staff=True)
    client.force_login(clerk)
    assert client.get(url).status_code == 403
    grant(clerk, "view_contactimportjob")
    assert client.get(url).json()["status"] == "done"


def test_staff_without_add_permission_cannot_import(client, django_user_model):
    clerk = django_user_model.objects.create_user(username="clerk", password="pw", is_staff=True)
    grant(clerk, "view_contact")
    client.force_login(clerk)
    assert client.get(IMPORT_URL).status_code == 403


# ---- export ------------------------------------------------------------------------------------


@pytest.fixture
def risky_contact(db):
    return Contact.objects.create(
        first_name="=cmd|' /C calc'!A0", last_name="@SUM(1)", phone="+14155550123",
        custom_fields={"note": "-2+3", "plan": "gold"},
    )  # fmt: skip


def export(client, url_name: str, file_format: str) -> bytes:
    response = client.post(reverse(url_name), {"format": file_format, "resource": "0"})
    assert response.status_code == 200
    return response.content


def test_a_csv_export_neutralises_formulas_but_keeps_e164_phones(admin_client, risky_contact):
    rows = list(csv.DictReader(io.StringIO(export(admin_client, "admin:contacts_contact_export", "0").decode())))
    assert rows[0]["phone"] == "+14155550123"
    assert rows[0]["first_name"] == "'=cmd|' /C calc'!A0"
    assert rows[0]["last_name"] == "'@SUM(1)"
    assert (rows[0]["note"], rows[0]["plan"]) == ("'-2+3", "gold")


def test_an_xlsx_export_has_text_cells_and_no_formula(admin_client, risky_contact):
    workbook = openpyxl.load_workbook(io.BytesIO(export(admin_client, "admin:contacts_contact_export", "1")))
    sheet = workbook.active
    header = [cell.value for cell in sheet[1]]
    row = {header[i]: cell for i, cell in enumerate(sheet[2])}
    assert (row["phone"].value, row["phone"].data_type) == ("+14155550123", "s")
    assert row["first_name"].value == "'=cmd|' /C calc'!A0"
    assert all(cell.data_type != "f" for cell in sheet[2])


def test_suppressions_and_lists_export(admin_client, contact_list):
    suppression_add(phone="+12025550143", reason="=1+1", source=Suppression.Source.ADMIN)
    rows = list(csv.DictReader(io.StringIO(export(admin_client, "admin:contacts_suppression_export", "0").decode())))
    assert (rows[0]["phone"], rows[0]["reason"]) == ("+12025550143", "'=1+1")
    rows = list(csv.DictReader(io.StringIO(export(admin_client, "admin:contacts_contactlist_export", "0").decode())))
    assert rows[0]["name"] == "Customers"


def test_a_premium_rate_number_is_refused_on_the_contact_form_in_words(admin_client):
    response = admin_client.post(
        reverse("admin:contacts_contact_add"), {"phone": "+1 900 234 5678", "first_name": "Pay", "country": "US"}
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["phone"] == [
        "+1 900-234-5678 is a premium-rate number; calling it is charged at a premium rate, so it is refused "
        "(setting CONTACT_REFUSED_NUMBER_TYPES)."
    ]
    assert not Contact.objects.exists()


def test_a_premium_rate_number_can_still_be_suppressed(admin_client):
    response = admin_client.post(
        reverse("admin:contacts_suppression_add"), {"phone": "+1 900 234 5678", "reason": "asked", "source": "admin"}
    )
    assert response.status_code == 302
    assert Suppression.objects.get().phone == "+19002345678"


# ---- suppressions ------------------------------------------------------------------------------


def test_an_operator_adds_a_suppression_in_any_format(admin_client, admin_user):
    response = admin_client.post(
        reverse("admin:contacts_suppression_add"), {"phone": "(202) 555-0143", "reason": "asked", "source": "admin"}
    )
    assert response.status_code == 302
    suppression = Suppression.objects.get()
    assert (suppression.phone, suppression.created_by) == ("+12025550143", admin_user)


def test_lifting_in_the_admin_keeps_the_suppression(admin_client):
    suppression = suppression_add(phone="+12025550143", reason="asked", source=Suppression.Source.OPT_OUT)
    admin_client.post(
        reverse("admin:contacts_suppression_changelist"),
        {"action": "lift_suppressions", "_selected_action": [suppression.pk]},
    )
    suppression.refresh_from_db()
    assert suppression.lifted_at is not None
    assert Suppression.objects.count() == 1


def test_suppressions_cannot_be_deleted(admin_client):
    suppression = suppression_add(phone="+12025550143", reason="asked", source=Suppression.Source.OPT_OUT)
    response = admin_client.get(reverse("admin:contacts_suppression_delete", args=[suppression.pk]))
    assert response.status_code == 403


def test_a_file_of_numbers_is_suppressed_and_bad_rows_are_listed(admin_client):
    suppression_add(phone="+13125550178", reason="earlier", source=Suppression.Source.OPT_OUT)
    data = b"Phone\n(202) 555-0143\n+1 312 555 0178\nnot a number\n"
    response = admin_client.post(
        reverse("admin:contacts_suppression_import_numbers"),
        {"import_file": SimpleUploadedFile("dnc.csv", data), "reason": "national DNC"},
        follow=True,
    )
    messages = [str(m) for m in response.context["messages"]]
    assert messages[0] == "Suppressed 1 numbers; 1 were already suppressed; 1 rows had no valid number."
    assert messages[1].startswith("row 4:")
    assert Suppression.objects.active().get(phone="+12025550143").source == "import"
    assert Suppression.objects.get(phone="+13125550178").reason == "earlier"


# ---- privacy -----------------------------------------------------------------------------------


def test_export_all_data_downloads_json_and_is_audited(admin_client, contact, call):
    response = admin_client.post(
        reverse("admin:contacts_contact_changelist"),
        {"action": "export_personal_data", "_selected_action": [contact.pk]},
    )
    assert response["Content-Type"] == "application/json"
    person = json.loads(response.content)["people"][0]
    assert person["contact"]["phone"] == contact.phone
    assert person["calls"][0]["id"] == str(call.id)
    assert OperatorAction.objects.filter(action="export_personal_data", target_id=str(contact.pk)).exists()


def test_erase_asks_for_confirmation_then_erases(admin_client, contact):
    url = reverse("admin:contacts_contact_changelist")
    asked = admin_client.post(url, {"action": "erase_personal_data", "_selected_action": [contact.pk]})
    assert "This cannot be undone" in asked.content.decode()
    contact.refresh_from_db()
    assert contact.erased_at is None
    admin_client.post(
        url,
        {"action": "erase_personal_data", "_selected_action": [contact.pk], "erase_confirmed": "1", "confirm": "on"},
    )
    contact.refresh_from_db()
    assert contact.erased_at is not None
    assert Suppression.objects.active().filter(phone="+12025550143").exists()


def test_the_audit_log_is_read_only(admin_client, contact, admin_user):
    from contacts.services import contact_data_export

    contact_data_export(contact=contact, actor=admin_user)
    entry = OperatorAction.objects.get()
    assert admin_client.get(reverse("admin:contacts_operatoraction_change", args=[entry.pk])).status_code == 200
    assert admin_client.post(reverse("admin:contacts_operatoraction_delete", args=[entry.pk])).status_code == 403


def test_an_erased_contact_can_be_viewed_but_not_edited(admin_client, contact, admin_user):
    from contacts.services import contact_erase

    contact_erase(contact=contact, actor=admin_user)
    url = reverse("admin:contacts_contact_change", args=[contact.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    assert "Erased contact" in page.content.decode()
    admin_client.post(url, {"first_name": "Ada", "phone": "+12025550143"})
    contact.refresh_from_db()
    assert (contact.first_name, contact.phone) == ("", None)


def test_a_one_word_name_updating_a_contact_shows_as_that_name_alone(admin_client, run_import):
    run_import(b"name,phone\nAlan Turing,+44 20 7946 0958\n")
    preview = upload(admin_client, b"Name,Phone\nSpaces,+44 20 7946 0958\n")
    assert "Updates first name, last name." in preview.content.decode()
    run_import(b"Name,Phone\nSpaces,+44 20 7946 0958\n")
    listed = admin_client.get(reverse("admin:contacts_contact_changelist")).content.decode()
    assert ">Spaces</a>" in listed
    assert "Turing" not in listed


def test_a_rows_second_number_the_import_warns_about_is_in_the_download_with_its_reason(admin_client, run_import):
    job = run_import(
        b"Name,Phone,Mobile,,Full name,first name\n"
        b"Ada Byron,+1 202 555 0143,+1 312 555 0178,,,Ada\n"  # row 2: imported, its mobile is not
        b",+1 415 555 0123,,,,Grace\n"  # row 3: imported whole
        b"Nobody,12345,+1 617 555 0101,note,,No\n"  # row 4: rejected, so its every cell is listed
        b"Alan Turing,+44 20 7946 0958,,a note,Alan M. Turing,Alan\n"  # row 5: two values left out
    )
    assert (job.created_count, job.rejected_count) == (3, 1)
    page = admin_client.get(reverse("admin:contacts_contactimportjob_change", args=[job.pk])).content.decode()
    assert "Download the rows not imported" in page
    assert (
        "2 imported rows have a value in an ignored column; each is in the download of the rows not imported, "
        "with that value."
    ) in page
    response = admin_client.get(reverse("admin:contacts_contactimportjob_issues", args=[job.pk]))
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    by_row = {row[0]: row[1:3] for row in rows[1:]}
    assert by_row == {
        "2": [
            "Imported without some of its values",
            "The row was imported without 'Name' (column 1) 'Ada Byron' (first/last name columns are used); "
            "'Mobile' (column 3) '+1 312 555 0178' (it repeats column 2, phone).",
        ],
        "4": ["Rejected: invalid", by_row["4"][1]],
        "5": [
            "Imported without some of its values",
            "The row was imported without 'Name' (column 1) 'Alan Turing' (first/last name columns are used); "
            "column 4 'a note' (the column has no header); 'Full name' (column 5) 'Alan M. Turing' (it repeats "
            "column 1, name).",
        ],
    }
    assert "'+1 617 555 0101" in rows[[row[0] for row in rows].index("4")]  # whole, formula-safe
