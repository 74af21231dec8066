"""The import job page shows the download of rows not imported only when there are some, and no empty error box."""

import pytest
from django.urls import reverse
from django.utils import timezone

from contacts.models import ContactImportIssue, ContactImportJob

pytestmark = pytest.mark.django_db


@pytest.fixture
def finished_job() -> ContactImportJob:
    return ContactImportJob.objects.create(
        file_name="contact-imports/a.csv", original_name="a.csv", file_format="csv",
        status=ContactImportJob.Status.DONE, total_rows=2, processed_rows=2, created_count=2,
        started_at=timezone.now(), finished_at=timezone.now(),
    )  # fmt: skip


def page(client, job: ContactImportJob) -> str:
    return client.get(reverse("admin:contacts_contactimportjob_change", args=[job.pk])).content.decode()


def test_a_clean_import_offers_no_download(admin_client, finished_job):
    assert '<p id="import-download" hidden>' in page(admin_client, finished_job)


def test_an_import_with_rows_not_imported_offers_their_download(admin_client, finished_job):
    ContactImportIssue.objects.create(job=finished_job, row_number=3, outcome="rejected", reason="No number.")
    content = page(admin_client, finished_job)
    assert '<p id="import-download" >' in content
    assert "Download the rows not imported" in content


def test_the_error_box_is_hidden_when_there_is_no_error_whatever_the_admin_css_says(admin_client, finished_job):
    content = page(admin_client, finished_job)
    assert '<p id="import-error" class="errornote" hidden>' in content
    assert "#import-progress [hidden] { display: none !important; }" in content
