"""The preview the admin shows before an import: what the row rules decide for the first rows."""

import itertools
from dataclasses import dataclass, field
from typing import BinaryIO

from django.utils.formats import number_format
from django.utils.translation import gettext

from contacts.importing.columns import ColumnMap, map_columns
from contacts.importing.files import ImportFileError, Table, open_table
from contacts.importing.rules import ContactRowRules, Outcome, RowDecision
from contacts.models import ContactList
from contacts.phone_numbers import default_region

PREVIEW_ROWS = 1000


@dataclass
class ImportPreview:
    table: Table
    columns: ColumnMap
    decisions: list[RowDecision]
    total_rows: int
    notes: list[str] = field(default_factory=list)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for decision in self.decisions if decision.outcome == outcome)

    @property
    def is_partial(self) -> bool:
        return self.total_rows > len(self.decisions)


def contact_import_preview(
    *,
    stream: BinaryIO,
    file_format: str,
    sheet: str = "",
    contact_list: ContactList | None = None,
    region: str = "",
) -> ImportPreview:
    """Decide the first `PREVIEW_ROWS` rows with the import's own rules, writing nothing, and count the rest.

    Raises `ImportFileError` for what makes the whole file unusable (empty, no phone column, no rows).
    """
    table = open_table(stream, file_format=file_format, sheet=sheet)
    columns = map_columns(table.headers)
    region = default_region(region, contact_list.default_region if contact_list else "")
    rules = ContactRowRules(columns=columns, contact_list=contact_list, default_region=region, create_lists=False)
    first_rows = list(itertools.islice(table.rows, PREVIEW_ROWS))
    total = len(first_rows) + sum(1 for _ in table.rows)
    if not total:
        raise ImportFileError(gettext("The file has a header row but no contacts under it."))
    notes = [gettext("Read as %(file)s.") % {"file": table.describe()}, *columns.warnings]
    if table.blank_rows:
        notes.append(gettext("%(count)d blank rows will be ignored.") % {"count": len(table.blank_rows)})
    if total > PREVIEW_ROWS:
        notes.append(
            gettext(
                "The file has %(total)s rows; the first %(shown)s are previewed. All rows are imported in the "
                "background with the same rules, and every row not imported is listed with its reason at the end."
            )
            % {
                "total": number_format(total, force_grouping=True),
                "shown": number_format(PREVIEW_ROWS, force_grouping=True),
            }
        )
    return ImportPreview(
        table=table, columns=columns, decisions=rules.decide(first_rows), total_rows=total, notes=notes
    )
