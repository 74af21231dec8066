"""Contacts upserted from records (the API's bulk upsert) by the file import's own row rules.

Each record becomes a row of a table whose header names the known columns and the custom fields, so
E.164 parsing, zones, refused number types, duplicates in the batch, the do-not-call list and the merge
with stored contacts are decided by `ContactRowRules` exactly as for a file; the same writer stores them.
"""

import collections
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction

from contacts.importing.columns import FIELD_BY_HEADER, custom_field_key, map_columns, normalise_header
from contacts.importing.rules import ContactRowRules, Outcome
from contacts.importing.writers import writer_for
from contacts.models import ContactList

MAX_RECORDS = 10_000
# Record keys read as the file columns of the same name; every custom field becomes a column of its own.
KNOWN_KEYS = ("phone", "first_name", "last_name", "email", "language", "time_zone", "lists")


class BulkUpsertError(ValueError):
    """The batch as a whole cannot be read (too many records, a custom field named like a contact field)."""


@dataclass
class BulkRowResult:
    row: int  # 1-based position of the record in the batch, as the rules' reasons count rows
    outcome: str
    reason: str
    phone: str


@dataclass
class BulkUpsertResult:
    counts: dict[str, int] = field(default_factory=dict)
    rows: list[BulkRowResult] = field(default_factory=list)


def custom_field_refusal(key: str) -> str | None:
    """Why a custom field's name cannot be used (it would read as a contact field or as nothing), or None."""
    if not custom_field_key(key):
        return f"Custom field {key!r} has no letters or digits."
    if normalise_header(key) in FIELD_BY_HEADER:
        return f"Custom field {key!r} reads as the contact field {FIELD_BY_HEADER[normalise_header(key)]!r}."
    return None


RECORD_KEYS = frozenset((*KNOWN_KEYS, "custom_fields"))
SCALARS = (str, int, float, bool, type(None))


def record_problems(records: object, *, limit: int = 20) -> list[str]:
    """What makes a batch unreadable as records, in words (at most `limit`); empty when it can go to the rules.

    Only the shape is checked here (a list of objects with known keys and plain values): what each value
    means is the row rules' to judge, per record, without failing the batch. Plain Python, not a DRF
    serializer per record: at 10,000 records that validation cost more than the import itself.
    """
    if not isinstance(records, list) or not records:
        return ["`contacts` is a list of 1 to 10,000 contacts."]
    if len(records) > MAX_RECORDS:
        return [f"Send at most {MAX_RECORDS:,} contacts in one request; this one has {len(records):,}."]
    problems: list[str] = []
    for number, record in enumerate(records, start=1):
        if len(problems) >= limit:
            break
        if not isinstance(record, dict):
            problems.append(f"Record {number} is not an object.")
            continue
        unknown = record.keys() - RECORD_KEYS
        if unknown:
            problems.append(f"Record {number}: unknown field(s) {', '.join(sorted(map(str, unknown)))}.")
        elif "phone" not in record:
            problems.append(f"Record {number} has no phone.")
        elif not all(isinstance(record.get(key), SCALARS) for key in KNOWN_KEYS[:-1]):
            problems.append(f"Record {number}: phone, names, email, language and time_zone are strings.")
        elif not isinstance(record.get("lists") or [], list) or not all(
            isinstance(name, str) for name in record.get("lists") or []
        ):
            problems.append(f"Record {number}: lists is a list of list names.")
        elif not isinstance(record.get("custom_fields") or {}, dict) or not all(
            isinstance(value, SCALARS) for value in (record.get("custom_fields") or {}).values()
        ):
            problems.append(f"Record {number}: custom_fields is an object of plain values.")
    return problems


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@transaction.atomic
def contacts_bulk_upsert(
    *, records: Sequence[Mapping[str, object]], contact_list: ContactList | None = None
) -> BulkUpsertResult:
    """Create or update contacts from records (`phone`, names, `email`, `language`, `time_zone`, `lists` as a
    list of names, `custom_fields` as a dict); return each record's outcome and reason and the counts.

    A record that cannot be imported never stops the others; what the file import would skip or reject is
    skipped or rejected here, with its words. Raises `BulkUpsertError` for a batch that cannot be read.
    """
    if len(records) > MAX_RECORDS:
        raise BulkUpsertError(f"Send at most {MAX_RECORDS:,} contacts in one request; this one has {len(records):,}.")
    custom_keys: dict[str, None] = {}
    for record in records:
        for key in record.get("custom_fields") or {}:
            if key not in custom_keys:
                refusal = custom_field_refusal(key)
                if refusal:
                    raise BulkUpsertError(refusal)
                custom_keys[key] = None
    headers = [*KNOWN_KEYS, *custom_keys]
    rows = []
    for number, record in enumerate(records, start=1):
        custom = record.get("custom_fields") or {}
        lists = record.get("lists") or []
        cells = [_cell(record.get(key)) for key in KNOWN_KEYS[:-1]]
        cells.append(";".join(str(name) for name in lists))
        cells += [_cell(custom.get(key)) for key in custom_keys]
        rows.append((number, cells))
    rules = ContactRowRules(
        columns=map_columns(headers),
        contact_list=contact_list,
        default_region=settings.DEFAULT_PHONE_REGION,
        create_lists=True,
        partial_records=True,
    )
    decisions = rules.decide(rows)
    # The file import's writers: on PostgreSQL every row goes through COPY and one MERGE.
    writer = writer_for(job=None, contact_list=contact_list, list_ids=rules.list_ids)
    writer.write(decisions)
    writer.finish()
    counts = collections.Counter(decision.outcome.value for decision in decisions)
    return BulkUpsertResult(
        counts={outcome.value: counts.get(outcome.value, 0) for outcome in Outcome},
        rows=[BulkRowResult(d.row_number, d.outcome.value, d.reason, d.phone) for d in decisions],
    )
