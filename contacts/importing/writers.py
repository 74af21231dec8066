"""Writing decided rows to the database: the only backend-specific part of import.

`OrmBulkWriter` works everywhere (SQLite for `make run`, and PostgreSQL): per chunk, one upsert of
the contacts (`INSERT … ON CONFLICT (phone) DO UPDATE`), their list memberships and consents.
`PostgresCopyWriter` streams the rows with COPY into a temporary staging table and merges it with
one statement per table at the end — the fast path on PostgreSQL. Both write exactly the values the
row rules decided; neither decides anything.
"""

import functools
import json
import re
from collections.abc import Iterable
from json.encoder import encode_basestring as quote_json

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from contacts.importing.rules import CONTACT_FIELDS, RowDecision, StagedBatch
from contacts.models import Consent, Contact, ContactImportIssue, ContactImportJob, ContactList
from contacts.selectors import in_values

CONSENT_UPDATE_FIELDS = ["source", "evidence", "revoked_at"]


class OrmBulkWriter:
    def __init__(self, *, job: ContactImportJob | None, contact_list: ContactList | None, list_ids: dict) -> None:
        self.job = job
        self.contact_list = contact_list
        self.list_ids = list_ids  # name → id, shared with the rules (which created the lists)

    def write(self, decisions: list[RowDecision]) -> None:
        written = [decision for decision in decisions if decision.outcome.is_written]
        with transaction.atomic():
            if written:
                now = timezone.now()
                Contact.objects.bulk_create(
                    [
                        Contact(
                            phone=d.phone, created_at=now, updated_at=now, **{n: d.fields[n] for n in CONTACT_FIELDS}
                        )
                        for d in written
                    ],
                    update_conflicts=True,
                    unique_fields=["phone"],
                    update_fields=[*CONTACT_FIELDS, "updated_at"],
                    batch_size=1000,
                )
                ids = dict(
                    Contact.objects.filter(phone__in=in_values(d.phone for d in written)).values_list("phone", "id")
                )
                self._write_lists(written, ids)
                self._write_consents(written, ids)
            write_issues(self.job, decisions)

    def finish(self) -> None:
        """Nothing is pending: every chunk was written when it came."""

    def _write_lists(self, written: list[RowDecision], ids: dict[str, int]) -> None:
        through = Contact.lists.through
        rows = [
            through(contact_id=ids[d.phone], contactlist_id=list_id)
            for d in written
            for list_id in self._target_list_ids(d.list_names)
        ]
        through.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)

    def _write_consents(self, written: list[RowDecision], ids: dict[str, int]) -> None:
        consents = [Consent(contact_id=ids[d.phone], **d.consent) for d in written if d.consent]
        if consents:
            now = timezone.now()
            for consent in consents:
                consent.created_at = now
            Consent.objects.bulk_create(
                consents,
                update_conflicts=True,
                unique_fields=["contact", "purpose", "given_at"],
                update_fields=CONSENT_UPDATE_FIELDS,
                batch_size=1000,
            )

    def _target_list_ids(self, names: tuple[str, ...]) -> set[int]:
        wanted = {self.list_ids[name] for name in names if self.list_ids.get(name)}
        return wanted | ({self.contact_list.pk} if self.contact_list else set())


class PostgresCopyWriter:
    """COPY each chunk into a temporary table; merge it into contacts, lists and consents at the end.

    It takes chunks as `ContactRowRules.decide_staged` leaves them (`write_staged`): the lines of new
    contacts come formatted by the reading processes, so this process only streams them on.
    The staging table lives in this connection's session only; the merge is one transaction, so a
    failure leaves no contact half-imported (the job can run again: every statement is an upsert).
    It has no index: the rules already let each number through once, and should they not, the
    contacts merge fails ("cannot affect row a second time") instead of picking one.
    """

    def __init__(self, *, job: ContactImportJob | None, contact_list: ContactList | None, list_ids: dict) -> None:
        # `list_ids` is the ORM writer's: the staging table holds list names, joined in the merge.
        self.job = job
        self.contact_list = contact_list
        self.has_lists = self.contact_list is not None
        self.has_consents = False
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS contact_import_stage")
            cursor.execute(
                """CREATE TEMPORARY TABLE contact_import_stage (
                    phone varchar(16), first_name text, last_name text, email text, language text,
                    country text, time_zone text, time_zone_candidates jsonb, time_zone_ambiguous boolean,
                    custom_fields jsonb, list_names text[], consent_purpose text, consent_source text,
                    consent_evidence text, consent_given_at timestamptz, consent_revoked_at timestamptz)"""
            )

    def write_staged(self, batch: StagedBatch, *, has_lists: bool, has_consents: bool) -> None:
        """Stage a chunk's new contacts and merged rows, and record its rows not imported with their reasons."""
        self.has_lists = self.has_lists or has_lists
        self.has_consents = self.has_consents or has_consents
        lines = batch.new_lines
        written = [d for d in batch.merged if d.outcome.is_written]
        if written:
            lines += "".join([stage_line(d.phone, d.fields, d.fields, d.list_names, d.consent) for d in written])
        if lines:
            with connection.cursor() as cursor, cursor.copy(COPY_STAGE) as copy:
                copy.write(lines)
        if batch.issues and self.job is not None:
            # COPY here too: the ORM adapts each JSON parameter one by one, which cost more than the contacts.
            with (
                connection.cursor() as cursor,
                cursor.copy(
                    "COPY contacts_contactimportissue (job_id, row_number, outcome, reason, values) FROM STDIN"
                ) as copy,
            ):
                job_id, dumps = self.job.pk, json.dumps
                for row_number, outcome, reason, cells in batch.issues:
                    copy.write_row((job_id, row_number, outcome, reason, dumps(cells)))

    def finish(self) -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            try:
                with transaction.atomic():
                    cursor.execute(MERGE_CONTACTS)
            except IntegrityError:
                # A number in the file was created since the rules looked (another import, the admin).
                cursor.execute(UPSERT_CONTACTS)
            if self.has_lists:
                cursor.execute(MERGE_LISTS)
                if self.contact_list is not None:
                    cursor.execute(MERGE_CONTACT_LIST, [self.contact_list.pk])
            if self.has_consents:
                cursor.execute(MERGE_CONSENTS)
            cursor.execute("DROP TABLE contact_import_stage")


COPY_STAGE = "COPY contact_import_stage FROM STDIN"
# One statement per table, built from CONTACT_FIELDS so the two cannot disagree.
_COLUMNS = ", ".join(CONTACT_FIELDS)
# MERGE inserts the new rows as a plain INSERT; an upsert (ON CONFLICT) first tries and checks every
# row's insert, which made it a third slower on 90k new contacts. MERGE is not safe against a number
# created meanwhile by someone else (a unique violation), so then the upsert runs instead.
MERGE_CONTACTS = f"""
    MERGE INTO contacts_contact c USING contact_import_stage s ON c.phone = s.phone
    WHEN MATCHED THEN UPDATE SET {", ".join(f"{name} = s.{name}" for name in CONTACT_FIELDS)}, updated_at = now()
    WHEN NOT MATCHED THEN INSERT (phone, {_COLUMNS}, created_at, updated_at)
        VALUES (s.phone, {", ".join(f"s.{name}" for name in CONTACT_FIELDS)}, now(), now())
"""  # noqa: S608 - no value in it comes from outside this module
UPSERT_CONTACTS = f"""
    INSERT INTO contacts_contact (phone, {_COLUMNS}, created_at, updated_at)
    SELECT phone, {_COLUMNS}, now(), now() FROM contact_import_stage
    ON CONFLICT (phone) DO UPDATE SET {", ".join(f"{name} = EXCLUDED.{name}" for name in CONTACT_FIELDS)},
        updated_at = EXCLUDED.updated_at
"""  # noqa: S608 - no value in it comes from outside this module
# The stage names a row's lists (the reading processes cannot know their ids); the rules created them all.
MERGE_LISTS = """
    INSERT INTO contacts_contact_lists (contact_id, contactlist_id)
    SELECT c.id, l.id FROM contact_import_stage s JOIN contacts_contact c ON c.phone = s.phone
        JOIN contacts_contactlist l ON l.name = ANY(s.list_names)
    WHERE s.list_names <> '{}'
    ON CONFLICT DO NOTHING
"""
MERGE_CONTACT_LIST = """
    INSERT INTO contacts_contact_lists (contact_id, contactlist_id)
    SELECT c.id, %s FROM contact_import_stage s JOIN contacts_contact c ON c.phone = s.phone
    ON CONFLICT DO NOTHING
"""
MERGE_CONSENTS = """
    INSERT INTO contacts_consent (contact_id, purpose, source, evidence, given_at, revoked_at, created_at)
    SELECT c.id, s.consent_purpose, s.consent_source, s.consent_evidence, s.consent_given_at,
        s.consent_revoked_at, now()
    FROM contact_import_stage s JOIN contacts_contact c ON c.phone = s.phone
    WHERE s.consent_purpose IS NOT NULL
    ON CONFLICT (contact_id, purpose, given_at) DO UPDATE SET source = EXCLUDED.source,
        evidence = EXCLUDED.evidence, revoked_at = EXCLUDED.revoked_at
"""


# COPY's text format: a tab between columns, a newline after the row, \\N for NULL, and these escaped.
COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NEEDS_ESCAPE = re.compile(r"[\\\n\r]")
NO_CONSENT = "\t\\N\t\\N\t\\N\t\\N\t\\N\n"
# Non-ASCII stays as it is (UTF-8 to PostgreSQL), so that values with accents need no escaping for COPY.
encode_json = json.JSONEncoder(ensure_ascii=False).encode


def stage_line(phone: str, fields: dict, location: dict, list_names: tuple[str, ...], consent: dict | None) -> str:
    """A contact's row of the staging table as a line of COPY text (what psycopg's `write_row` sends).

    `location`: the country and zone fields, when they are not in `fields` (a new contact's, which the
    reading processes format without copying its fields into one dict). Runs there for every row of a
    big file, so the common case (no tab, newline or backslash in any value) is one join and one check.
    """
    custom = fields["custom_fields"]
    values = (
        phone,
        fields["first_name"],
        fields["last_name"],
        fields["email"],
        fields["language"],
        location["country"],
        location["time_zone"],
        zones_json(tuple(location["time_zone_candidates"])),
        "t" if location["time_zone_ambiguous"] else "f",
        json_object(custom) if custom else "{}",
        list_array(list_names),
    )
    line = "\t".join(values)
    if line.count("\t") != len(values) - 1 or _NEEDS_ESCAPE.search(line):
        line = "\t".join([value.translate(COPY_ESCAPES) for value in values])
    if consent is None:
        return line + NO_CONSENT
    purpose, source, evidence = str(consent["purpose"]), consent["source"], consent["evidence"]
    revoked_at = consent["revoked_at"]
    cells = (purpose, source, evidence, consent["given_at"].isoformat(), revoked_at.isoformat() if revoked_at else None)
    return "\t".join([line, *("\\N" if cell is None else cell.translate(COPY_ESCAPES) for cell in cells)]) + "\n"


def json_object(values: dict) -> str:
    """`values` as a JSON object. A row's custom fields are text, and quoting each key and value with the
    json module's own string encoder costs a fifth of `json.dumps`, which sets up an encoder per call."""
    try:
        return "{" + ", ".join([_quoted_key(key) + quote_json(value) for key, value in values.items()]) + "}"
    except TypeError:  # a value that is not text (a stored contact's custom field may be a number)
        return encode_json(values)


@functools.lru_cache(maxsize=1024)
def _quoted_key(key: str) -> str:
    return quote_json(key) + ": "  # a file has a few custom columns: each key is quoted once


@functools.lru_cache(maxsize=1024)
def list_array(names: tuple[str, ...]) -> str:
    """The names as a PostgreSQL array literal; a file names few combinations, so each is built once."""
    return "{" + ",".join('"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"' for name in names) + "}"


@functools.lru_cache(maxsize=1024)
def zones_json(zones: tuple[str, ...]) -> str:
    return json.dumps(list(zones))  # a file has few distinct zone lists: encode each once


def writer_for(
    *, job: ContactImportJob | None, contact_list: ContactList | None, list_ids: dict
) -> OrmBulkWriter | PostgresCopyWriter:
    writer_class = PostgresCopyWriter if connection.vendor == "postgresql" else OrmBulkWriter
    return writer_class(job=job, contact_list=contact_list, list_ids=list_ids)


def write_issues(job: ContactImportJob | None, decisions: Iterable[RowDecision]) -> None:
    if job is None:
        return
    ContactImportIssue.objects.bulk_create(
        [
            ContactImportIssue(
                job=job, row_number=d.row_number, outcome=d.outcome.value, reason=d.reason, values=d.cells
            )
            for d in decisions
            if d.outcome.is_issue
        ],
        ignore_conflicts=True,
        batch_size=1000,
    )
