"""Which column of a contact file holds what: headers matched case- and space-insensitively.

Known headers (and their usual spellings) map to contact fields and consent; every other column
becomes a custom field, named as a `{{variable}}` can use it ("Amount Due" → `amount_due`).
"""

import re
from dataclasses import dataclass, field

from django.utils.translation import gettext

from contacts.importing.files import ImportFileError

ALIASES: dict[str, tuple[str, ...]] = {
    "phone": ("phone", "phone number", "phonenumber", "telephone", "tel", "mobile", "mobile phone", "cell",
              "cell phone", "number", "msisdn", "phone e164"),
    "first_name": ("first", "first name", "firstname", "given name", "forename"),
    "last_name": ("last", "last name", "lastname", "surname", "family name"),
    "name": ("name", "full name", "fullname", "contact name", "contact"),
    "email": ("email", "e mail", "email address", "mail"),
    "time_zone": ("timezone", "time zone", "tz"),
    "language": ("language", "lang", "locale"),
    "lists": ("lists", "list", "contact list", "contact lists"),
    "consent_purpose": ("consent", "consent purpose"),
    "consent_source": ("consent source",),
    "consent_evidence": ("consent evidence", "consent text"),
    "consent_given_at": ("consent given at", "consent given", "consent date", "consented at"),
    "consent_revoked_at": ("consent revoked at", "consent revoked"),
}  # fmt: skip
FIELD_BY_HEADER = {alias: name for name, aliases in ALIASES.items() for alias in aliases}
CONSENT_FIELDS = tuple(name for name in ALIASES if name.startswith("consent_"))


def normalise_header(header: str) -> str:
    """ "  First_Name " → "first name": lower case, separators as single spaces."""
    return " ".join(re.sub(r"[_\-.:/()]+", " ", header.strip().lower()).split())


def custom_field_key(header: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", normalise_header(header)).strip("_")


@dataclass
class ColumnMap:
    """Column index of each known field (absent ones are missing), the custom columns, and what was odd."""

    width: int
    known: dict[str, int] = field(default_factory=dict)
    custom: list[tuple[int, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # Columns whose cells are not imported: (index, which, why), e.g. (2, "'Mobile' (column 3)",
    # "the phone imported is column 2's").
    ignored: list[tuple[int, str, str]] = field(default_factory=list)

    @property
    def phone(self) -> int:
        return self.known["phone"]

    @property
    def has_consent(self) -> bool:
        return any(name in self.known for name in CONSENT_FIELDS)

    def cell(self, cells: list[str], name: str) -> str:
        index = self.known.get(name)
        return cells[index] if index is not None and index < len(cells) else ""


def map_columns(headers: list[str]) -> ColumnMap:
    """Map a header row; raise `ImportFileError` when no column holds phone numbers.

    A header that appears twice keeps its first column and the later ones are ignored, with a warning:
    guessing which of two "Phone" columns is right would be worse than saying so. Each ignored column is
    also in `ignored`, so that the import can list every value it did not import (`ignored_values`).
    """
    columns = ColumnMap(width=len(headers))
    custom_keys: dict[str, int] = {}
    for index, header in enumerate(headers):
        label = gettext("column %(number)d") % {"number": index + 1}
        normalised = normalise_header(header)
        if not normalised:
            columns.warnings.append(
                gettext("%(column)s has no header; its cells are ignored.") % {"column": label.capitalize()}
            )
            columns.ignored.append((index, label, "the column has no header"))
            continue
        name = FIELD_BY_HEADER.get(normalised)
        if name is not None:
            if name in columns.known:
                first = columns.known[name] + 1
                columns.warnings.append(
                    gettext(
                        "%(header)r (%(column)s) repeats column %(first)d (%(field)s); column %(first)d is used and "
                        "%(column)s is ignored."
                    )
                    % {"header": header, "column": label, "first": first, "field": name.replace("_", " ")}
                )
                columns.ignored.append(
                    (index, f"{header!r} ({label})", f"it repeats column {first}, {name.replace('_', ' ')}")
                )
                continue
            columns.known[name] = index
            continue
        key = custom_field_key(header)
        if not key:
            columns.warnings.append(
                gettext("%(header)r (%(column)s) has no letters or digits; its cells are ignored.")
                % {"header": header, "column": label}
            )
            columns.ignored.append((index, f"{header!r} ({label})", "its header has no letters or digits"))
            continue
        if key in custom_keys:
            columns.warnings.append(
                gettext("%(header)r (%(column)s) repeats column %(first)d; %(column)s is ignored.")
                % {"header": header, "column": label, "first": custom_keys[key] + 1}
            )
            columns.ignored.append((index, f"{header!r} ({label})", f"it repeats column {custom_keys[key] + 1}"))
            continue
        custom_keys[key] = index
        columns.custom.append((index, key))
    if "phone" not in columns.known:
        shown = ", ".join(repr(header) for header in headers[:12]) + (" …" if len(headers) > 12 else "")
        raise ImportFileError(
            gettext(
                "No phone column: the header row is %(headers)s. Name the column holding the numbers "
                "'phone' (or 'mobile', 'telephone', 'phone number'); nothing was imported."
            )
            % {"headers": shown}
        )
    if "name" in columns.known and ("first_name" in columns.known or "last_name" in columns.known):
        columns.warnings.append(gettext("The file has both 'name' and first/last name columns; first/last are used."))
        index = columns.known["name"]
        columns.ignored.append((index, f"{headers[index]!r} (column {index + 1})", "first/last name columns are used"))
    return columns


def ignored_values(columns: ColumnMap, cells: list[str]) -> str:
    """What of this row is not imported because its column is ignored, in words; "" when nothing is."""
    left_out = [
        f"{which} {cells[index].strip()!r} ({why})"
        for index, which, why in sorted(columns.ignored)
        if index < len(cells) and cells[index].strip()
    ]
    return f"The row was imported without {'; '.join(left_out)}." if left_out else ""
