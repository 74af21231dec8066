"""A real browser (Playwright driving Debian's Chromium) through the admin import, as an operator does it:
upload → preview → confirm → progress → summary → download of the rows not imported.

Chromium is needed (`apt-get install chromium`; `.ci/run` installs it): the shared `browser` fixture
(conftest.py) fails without it.
"""

import csv
import io
from pathlib import Path

import pytest

from contacts.models import Contact, ContactImportJob, ContactList

MESSY_CSV = (
    "First Name;Last Name;Phone;Amount Due\n"
    "Ada;Byron;(202) 555-0143;120.00\n"
    "No;Number;12345;1\n"
    "\n"
    "Ada;Again;+1 202 555 0143;2\n"
    "Grace;Hopper;+1 312 555 0178;89.50\n"
).encode("latin-1")


@pytest.fixture
def browser_page(browser):
    page = browser.new_context(accept_downloads=True).new_page()
    page.set_default_timeout(20_000)
    return page


def test_an_operator_imports_a_messy_file_and_downloads_the_rows_not_imported(
    transactional_db, live_server, django_user_model, browser_page, tmp_path
):
    django_user_model.objects.create_superuser("operator", "op@example.com", "a-long-test-password")
    ContactList.objects.create(name="November reminders")
    upload = tmp_path / "crm-export.csv"
    upload.write_bytes(MESSY_CSV)
    page = browser_page

    page.goto(f"{live_server.url}/admin/login/?next=/admin/contacts/contact/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", "a-long-test-password")
    page.click("input[type=submit]")
    page.click("a.import_link")

    page.set_input_files("#id_import_file", str(upload))
    page.select_option("#id_format", label="csv")
    page.select_option("#id_contact_list", label="November reminders")
    page.click("input[type=submit]")

    preview = page.locator("table.import-preview")
    preview.wait_for()
    assert "Same number as row 2." in preview.inner_text()
    assert "is not a valid number" in preview.inner_text()
    assert page.locator("#preview-create").inner_text() == "2"
    assert not Contact.objects.exists()  # a preview writes nothing

    page.click("input[name=confirm]")
    page.wait_for_url("**/admin/contacts/contactimportjob/*/change/")
    page.locator("#import-status", has_text="Done").wait_for()
    assert page.locator("#import-bar").get_attribute("value") == "100"
    assert page.locator("#import-created").inner_text() == "2"
    assert page.locator("#import-skipped").inner_text() == "1"
    assert page.locator("#import-rejected").inner_text() == "1"

    with page.expect_download() as download_info:
        page.click("#download-not-imported")
    rows = list(csv.reader(io.StringIO(Path(download_info.value.path()).read_text(encoding="utf-8-sig"))))
    assert [(row[0], row[1]) for row in rows[1:]] == [
        ("3", "Rejected: invalid"),
        ("5", "Skipped: duplicate in the file"),
    ]
    assert rows[2][2] == "Same number as row 2."

    job = ContactImportJob.objects.get()
    assert (job.status, job.contact_list.name) == ("done", "November reminders")
    assert set(Contact.objects.values_list("phone", flat=True)) == {"+12025550143", "+13125550178"}
