"""django-import-export resources and file formats for contacts, lists and suppressions.

Import: the admin keeps django-import-export's flow (upload → preview → confirm), but the preview is
computed by the import's own row rules (`contacts.importing`) and confirming queues an import job
instead of importing in the web request. The formats read the raw bytes themselves, so any encoding,
delimiter or sheet is accepted, and say clearly what is wrong with a file that cannot be imported.

Export: every format neutralises spreadsheet formulas (`contacts.spreadsheets`).
"""

import contextvars
import io

import tablib
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from import_export import fields, resources
from import_export.formats import base_formats
from import_export.results import Result, RowResult

from contacts.importing.columns import map_columns
from contacts.importing.files import ImportFileError, open_table
from contacts.importing.preview import ImportPreview, contact_import_preview
from contacts.importing.rules import Outcome
from contacts.models import Contact, ContactList, Suppression

# The XLSX sheet the operator asked for. import-export builds the dataset from the file alone, so the
# admin view sets this for the request (a ContextVar is per thread and per task, never shared).
CHOSEN_SHEET: contextvars.ContextVar[str] = contextvars.ContextVar("contact_import_sheet", default="")

IMPORT_TYPES = {
    Outcome.CREATE: RowResult.IMPORT_TYPE_NEW,
    Outcome.UPDATE: RowResult.IMPORT_TYPE_UPDATE,
}
OUTCOME_LABELS = {
    Outcome.CREATE: _("create"),
    Outcome.UPDATE: _("update"),
    Outcome.UNCHANGED: pgettext_lazy("import outcome", "unchanged"),
    Outcome.DUPLICATE: _("skip: duplicate in file"),
    Outcome.SUPPRESSED: _("skip: suppressed"),
    Outcome.REJECTED: _("reject: invalid"),
}


class ContactFileDataset(tablib.Dataset):
    """The uploaded file's bytes, checked to have a phone column and a row; the rows are read by the preview."""

    def __init__(self, raw: bytes, *, file_format: str, sheet: str, headers: list[str], first_row: list[str]) -> None:
        width = len(headers)
        super().__init__((first_row + [""] * width)[:width], headers=[f"{i}:{h}" for i, h in enumerate(headers)])
        self.raw = raw
        self.file_format = file_format
        self.sheet = sheet


class ContactFileFormatMixin:
    file_format = "csv"

    def is_binary(self) -> bool:
        return True  # bytes in, whatever the encoding: `contacts.importing.files` decodes

    def get_read_mode(self) -> str:
        return "rb"

    def create_dataset(self, in_stream: bytes, **kwargs: object) -> ContactFileDataset:
        sheet = CHOSEN_SHEET.get()
        table = open_table(io.BytesIO(in_stream), file_format=self.file_format, sheet=sheet)
        map_columns(table.headers)  # no phone column: stop here, before any row
        first = next(table.rows, None)
        if first is None:
            raise ImportFileError("The file has a header row but no contacts under it.")
        return ContactFileDataset(
            in_stream, file_format=self.file_format, sheet=table.sheet, headers=table.headers, first_row=first[1]
        )


class ContactCSV(ContactFileFormatMixin, base_formats.CSV):
    file_format = "csv"

    def get_title(self) -> str:
        return "csv"


class ContactXLSX(ContactFileFormatMixin, base_formats.XLSX):
    file_format = "xlsx"

    def get_title(self) -> str:
        return "xlsx"


class ContactResource(resources.ModelResource):
    """Contacts: previewed by the row rules on import; exported with one column per custom field."""

    lists = fields.Field(attribute="lists", column_name="lists")

    def __init__(self, contact_list: ContactList | None = None, region: str = "", **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.contact_list = contact_list
        self.region = region
        self.preview: ImportPreview | None = None

    class Meta:
        model = Contact
        import_id_fields = ("phone",)
        fields = ("phone", "first_name", "last_name", "email", "language", "time_zone", "lists")

    def import_data(self, dataset: ContactFileDataset, dry_run: bool = False, **kwargs: object) -> Result:
        if not dry_run:
            raise ImproperlyConfigured("A confirmed contact import runs as a ContactImportJob (ContactAdmin).")
        self.preview = contact_import_preview(
            stream=io.BytesIO(dataset.raw),
            file_format=dataset.file_format,
            sheet=dataset.sheet,
            contact_list=self.contact_list,
            region=self.region,
        )
        result = Result()
        result.preview = self.preview
        result.diff_headers = [
            gettext("row"), gettext("outcome"), gettext("why"), gettext("phone (E.164)"), gettext("name"),
            gettext("email"), gettext("time zone"), gettext("custom fields"),
        ]  # fmt: skip
        for decision in self.preview.decisions:
            row = RowResult()
            row.import_type = IMPORT_TYPES.get(decision.outcome, RowResult.IMPORT_TYPE_SKIP)
            fields_ = decision.fields
            name = f"{fields_.get('first_name', '')} {fields_.get('last_name', '')}".strip()
            zone = fields_.get("time_zone") or (
                gettext("ambiguous: %(zones)s") % {"zones": ", ".join(fields_.get("time_zone_candidates", [])[:3])}
                if fields_.get("time_zone_ambiguous")
                else ""
            )
            custom = ", ".join(f"{k}={v}" for k, v in fields_.get("custom_fields", {}).items())
            row.diff = [
                decision.row_number,
                OUTCOME_LABELS[decision.outcome],
                decision.reason,
                decision.phone or (decision.cells[self.preview.columns.phone] if decision.cells else ""),
                name,
                fields_.get("email", ""),
                zone,
                custom[:200],
            ]
            result.append_row_result(row)
            result.increment_row_result_total(row)
        result.total_rows = self.preview.total_rows
        return result

    def export(self, queryset: object = None, **kwargs: object) -> tablib.Dataset:
        """One row per contact; lists by name; each custom field in its own column (re-importable)."""
        if queryset is None:
            queryset = self.get_queryset()
        contacts = list(queryset.filter(erased_at__isnull=True).prefetch_related("lists").order_by("pk"))
        keys = sorted({key for contact in contacts for key in contact.custom_fields})
        headers = [
            "phone", "first_name", "last_name", "email", "country", "time_zone", "time_zone_ambiguous",
            "language", "lists", *keys,
        ]  # fmt: skip
        dataset = tablib.Dataset(headers=headers)
        for contact in contacts:
            dataset.append(
                [
                    contact.phone,
                    contact.first_name,
                    contact.last_name,
                    contact.email,
                    contact.country,
                    contact.time_zone,
                    "yes" if contact.time_zone_ambiguous else "",
                    contact.language,
                    "; ".join(contact_list.name for contact_list in contact.lists.all()),
                    *(str(contact.custom_fields.get(key, "")) for key in keys),
                ]
            )
        return dataset


class ContactListResource(resources.ModelResource):
    class Meta:
        model = ContactList
        fields = ("id", "name", "description", "created_at")


class SuppressionResource(resources.ModelResource):
    created_by = fields.Field(attribute="created_by__username", column_name="created_by")
    lifted_by = fields.Field(attribute="lifted_by__username", column_name="lifted_by")

    class Meta:
        model = Suppression
        fields = ("phone", "reason", "source", "created_by", "created_at", "lifted_at", "lifted_by", "lift_reason")
        export_order = fields
