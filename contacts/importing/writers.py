"""Writing decided rows to the database: the only backend-specific part of import.

`OrmBulkWriter` works everywhere (SQLite for `make run`, and PostgreSQL): per chunk, one upsert of
the contacts (`INSERT … ON CONFLICT (phone) DO UPDATE`), their list memberships and consents.
`PostgresCopyWriter` streams each chunk's new contacts with COPY, straight into contacts or (when lists or
consents follow them) through a temporary table, merging the rows that meet stored contacts at the end,
all in the import's one transaction — the fast path on PostgreSQL. Both write exactly the values the row
rules decided; neither decides anything.
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


class NumbersAlreadyStored(Exception):
    """A chunk written as all new (`write_staged(unchecked=True)`) holds a number that a contact has:
    nothing of the chunk was written; decide it again looking its numbers up."""


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
    """COPY each chunk's new contacts into contacts (straight, or through a temporary table when lists or
    consents are written with them: `begin`), and its lists and consents, at once.

    It takes chunks as `ContactRowRules.decide_staged` leaves them (`write_staged`): the lines of new
    contacts come formatted by the reading processes, so this process only streams them on. A chunk's new
    contacts are inserted as it comes, so PostgreSQL writes them while the reading processes parse the next
    chunks (written at the end, they took ≈0.9 s of 100k rows' ≈6 s, alone on one core); rows meeting a
    stored contact are staged and merged at the end, so those contacts are locked for that last second
    only, not the whole import. All of it is one transaction (`transaction()`, around the whole import),
    so a failure leaves no contact half-imported (the job can run again: every statement is an upsert).
    The price: a number it inserted is held until the import ends, so another writer creating the same
    number meanwhile (the admin, an overlapping import) waits for that, not for a last merge only.
    The temporary tables have no index: the rules already let each number through once, and should they
    not, the contacts insert or merge fails ("cannot affect row a second time") instead of picking one.
    """

    def __init__(self, *, job: ContactImportJob | None, contact_list: ContactList | None, list_ids: dict) -> None:
        # `list_ids` is the ORM writer's: the staging table holds list names, joined in the merge.
        self.job = job
        self.contact_list = contact_list
        self.has_lists = self.contact_list is not None
        self.has_consents = False
        self.has_stored = False  # whether any row meeting a stored contact was staged
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {TEMPORARY_TABLES}")
            cursor.execute(
                """CREATE TEMPORARY TABLE contact_import_stage (
                    phone varchar(16), first_name text, last_name text, email text, language text,
                    country text, time_zone text, time_zone_candidates jsonb, time_zone_ambiguous boolean,
                    custom_fields jsonb, list_names text[], consent_purpose text, consent_source text,
                    consent_evidence text, consent_given_at timestamptz, consent_revoked_at timestamptz)"""
            )
            cursor.execute("CREATE TEMPORARY TABLE contact_import_chunk (LIKE contact_import_stage)")
            cursor.execute("CREATE TEMPORARY TABLE contact_import_ids (id bigint, phone varchar(16))")
            new_table = f"SELECT {_NEW_COLUMNS} FROM contacts_contact WITH NO DATA"  # noqa: S608
            cursor.execute(f"CREATE TEMPORARY TABLE contact_import_new AS {new_table}")
        self.created_at: str | None = None  # set by `begin`: new contacts are copied straight into contacts

    @staticmethod
    def transaction() -> transaction.Atomic:
        """The import's one transaction: enter it before the first chunk, leave it after `finish`."""
        return transaction.atomic()

    def begin(self, *, has_lists: bool, has_consents: bool) -> str | None:
        """Inside `transaction()`, before the first chunk: when nothing is to be linked to the new contacts
        (the file names no list and no consent, and the job adds them to no list), the transaction's
        timestamp as COPY text, for the reading processes to end each new contact's line with
        (`parsing.stage_rows(created_at=…)`): those lines are then copied straight into contacts.
        Otherwise None, and the lines are the staging table's.

        Straight into contacts, PostgreSQL parses each row once and writes it once, instead of into a
        temporary table and again out of it (≈0.3 s of its CPU for 92k new contacts); the timestamp is
        `now()`, as the INSERT from the staging table writes it.
        """
        if has_lists or has_consents or self.contact_list is not None:
            return None
        with connection.cursor() as cursor:
            cursor.execute("SELECT now()::text")
            (self.created_at,) = cursor.fetchone()
        return self.created_at

    def write_staged(self, batch: StagedBatch, *, has_lists: bool, has_consents: bool, unchecked: bool = False) -> None:
        """Write a chunk's new contacts, stage its rows meeting stored contacts, and record its rows not
        imported with their reasons.

        `unchecked`: the batch was decided without looking its numbers up (`decide_staged(look_up_stored=
        False)`); should one of its new contacts be stored already, nothing of it is written and
        `NumbersAlreadyStored` is raised.
        """
        self.has_lists = self.has_lists or has_lists
        self.has_consents = self.has_consents or has_consents
        with connection.cursor() as cursor:
            if batch.new_lines and self.created_at is not None:
                self._copy_new(cursor, batch.new_lines, unchecked=unchecked)
            elif batch.new_lines:
                cursor.execute("TRUNCATE contact_import_chunk")
                with cursor.copy(COPY_CHUNK) as copy:
                    copy.write(batch.new_lines)
                self._insert_new(cursor, has_lists=has_lists, has_consents=has_consents, unchecked=unchecked)
            written = [d for d in batch.merged if d.outcome.is_written]
            if written:
                self.has_stored = True
                lines = [
                    stage_line(d.phone, d.fields, location_cells(d.fields), d.list_names, d.consent) for d in written
                ]
                with cursor.copy(COPY_STAGE) as copy:
                    copy.write("".join(lines))
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

    def write(self, decisions: list[RowDecision]) -> None:
        """`OrmBulkWriter.write`'s counterpart for rows decided by `ContactRowRules.decide` (the API's bulk
        upsert): every row to write is staged with COPY, new or stored alike, and `finish` merges them all
        in one statement. Its rows not imported are recorded for the job, if there is one."""
        written = [d for d in decisions if d.outcome.is_written]
        if written:
            self.has_stored = True
            self.has_lists = self.has_lists or any(d.list_names for d in written)
            self.has_consents = self.has_consents or any(d.consent for d in written)
            lines = [stage_line(d.phone, d.fields, location_cells(d.fields), d.list_names, d.consent) for d in written]
            with connection.cursor() as cursor, cursor.copy(COPY_STAGE) as copy:
                copy.write("".join(lines))
        write_issues(self.job, decisions)

    def finish(self) -> None:
        """Merge the rows meeting stored contacts, staged until now, with their contacts."""
        with transaction.atomic(), connection.cursor() as cursor:
            if self.has_stored:
                try:
                    with transaction.atomic():
                        cursor.execute(MERGE_CONTACTS)
                except IntegrityError:
                    # As in `_insert_new`: a number created meanwhile by someone else.
                    cursor.execute(UPSERT_CONTACTS.format(stage="contact_import_stage"))
                self._link(cursor, "contact_import_stage", "contacts_contact", self.has_lists, self.has_consents)
            cursor.execute(f"DROP TABLE {TEMPORARY_TABLES}")

    def _insert_new(self, cursor: object, *, has_lists: bool, has_consents: bool, unchecked: bool) -> None:
        """Insert the chunk's new contacts, then their lists and consents.

        A plain INSERT: the rules found none of these numbers stored, and MERGE, which would look them up,
        hashed the whole contacts table for each chunk (84 ms a chunk at 92k contacts, against 77 ms for
        inserting its 5,000 rows). A number created meanwhile by someone else (another import, the admin)
        makes it fail with a unique violation; the upsert then runs instead, and updates that contact —
        unless the rules did not look the numbers up (`unchecked`): then the violation may be any stored
        number, and `NumbersAlreadyStored` sends the chunk back to them.
        When lists or consents follow, the new contacts' ids are kept from the insert itself, so that
        they need not be looked up in contacts either.
        """
        linked = has_lists or has_consents or self.contact_list is not None
        insert = KEEPING_IDS if linked else "{insert}"
        try:
            with transaction.atomic():
                cursor.execute(insert.format(insert=INSERT_CONTACTS.format(stage="contact_import_chunk")))
        except IntegrityError:
            if unchecked:
                raise NumbersAlreadyStored from None
            cursor.execute(insert.format(insert=UPSERT_CONTACTS.format(stage="contact_import_chunk")))
        if linked:
            self._link(cursor, "contact_import_chunk", "contact_import_ids", has_lists, has_consents)
            cursor.execute("TRUNCATE contact_import_ids")

    def _copy_new(self, cursor: object, lines: str, *, unchecked: bool) -> None:
        """Copy a chunk's new contacts straight into contacts (see `begin`). As in `_insert_new`, a number
        created meanwhile by someone else makes it fail with a unique violation; the chunk then goes through
        a temporary table and the upsert — or, when the rules did not look its numbers up (`unchecked`),
        back to them (`NumbersAlreadyStored`)."""
        try:
            with transaction.atomic(), cursor.copy(COPY_CONTACTS) as copy:
                copy.write(lines)
        except (IntegrityError, connection.Database.IntegrityError):  # COPY raises psycopg's own
            if unchecked:
                raise NumbersAlreadyStored from None
            cursor.execute("TRUNCATE contact_import_new")
            with cursor.copy(COPY_NEW) as copy:
                copy.write(lines)
            cursor.execute(UPSERT_CONTACTS.format(stage="contact_import_new"))

    def _link(self, cursor: object, stage: str, contacts: str, has_lists: bool, has_consents: bool) -> None:
        """Add the rows of `stage` to their lists and record their consents; `contacts`: where their
        contacts' ids are found by number (contacts itself, or the ids a chunk's insert kept)."""
        if has_lists:
            cursor.execute(MERGE_LISTS.format(stage=stage, contacts=contacts))
        if self.contact_list is not None:
            cursor.execute(MERGE_CONTACT_LIST.format(stage=stage, contacts=contacts), [self.contact_list.pk])
        if has_consents:
            cursor.execute(MERGE_CONSENTS.format(stage=stage, contacts=contacts))


TEMPORARY_TABLES = "contact_import_stage, contact_import_chunk, contact_import_ids, contact_import_new"
COPY_STAGE = "COPY contact_import_stage FROM STDIN"
COPY_CHUNK = "COPY contact_import_chunk FROM STDIN"
# One statement per table, built from CONTACT_FIELDS so the two cannot disagree; {stage} is the temporary
# table it reads (a chunk's new contacts, or the rows meeting stored contacts).
_COLUMNS = ", ".join(CONTACT_FIELDS)
# A new contact's line when copied straight into contacts (`PostgresCopyWriter.begin`).
_NEW_COLUMNS = f"phone, {_COLUMNS}, created_at, updated_at"
COPY_CONTACTS = f"COPY contacts_contact ({_NEW_COLUMNS}) FROM STDIN"
COPY_NEW = "COPY contact_import_new FROM STDIN"
# MERGE updates the stored contacts as a plain UPDATE; an upsert (ON CONFLICT) first tries and checks every
# row's insert, which made it a third slower on 90k contacts. MERGE is not safe against a number created
# meanwhile by someone else (a unique violation), so then the upsert runs instead.
MERGE_CONTACTS = f"""
    MERGE INTO contacts_contact c USING contact_import_stage s ON c.phone = s.phone
    WHEN MATCHED THEN UPDATE SET {", ".join(f"{name} = s.{name}" for name in CONTACT_FIELDS)}, updated_at = now()
    WHEN NOT MATCHED THEN INSERT (phone, {_COLUMNS}, created_at, updated_at)
        VALUES (s.phone, {", ".join(f"s.{name}" for name in CONTACT_FIELDS)}, now(), now())
"""  # noqa: S608 - no value in it comes from outside this module
INSERT_CONTACTS = f"""
    INSERT INTO contacts_contact (phone, {_COLUMNS}, created_at, updated_at)
    SELECT phone, {_COLUMNS}, now(), now() FROM {{stage}}
"""  # noqa: S608 - no value in it comes from outside this module
UPSERT_CONTACTS = f"""{INSERT_CONTACTS}
    ON CONFLICT (phone) DO UPDATE SET {", ".join(f"{name} = EXCLUDED.{name}" for name in CONTACT_FIELDS)},
        updated_at = EXCLUDED.updated_at
"""
# An insert or upsert keeping the ids of the contacts it wrote (both inserted and updated rows come back).
KEEPING_IDS = "WITH written AS ({insert} RETURNING id, phone) INSERT INTO contact_import_ids SELECT * FROM written"
# The stage names a row's lists (the reading processes cannot know their ids); the rules created them all.
MERGE_LISTS = """
    INSERT INTO contacts_contact_lists (contact_id, contactlist_id)
    SELECT c.id, l.id FROM {stage} s JOIN {contacts} c ON c.phone = s.phone
        JOIN contacts_contactlist l ON l.name = ANY(s.list_names)
    WHERE s.list_names <> '{{}}'
    ON CONFLICT DO NOTHING
"""
MERGE_CONTACT_LIST = """
    INSERT INTO contacts_contact_lists (contact_id, contactlist_id)
    SELECT c.id, %s FROM {stage} s JOIN {contacts} c ON c.phone = s.phone
    ON CONFLICT DO NOTHING
"""
MERGE_CONSENTS = """
    INSERT INTO contacts_consent (contact_id, purpose, source, evidence, given_at, revoked_at, created_at)
    SELECT c.id, s.consent_purpose, s.consent_source, s.consent_evidence, s.consent_given_at,
        s.consent_revoked_at, now()
    FROM {stage} s JOIN {contacts} c ON c.phone = s.phone
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


def stage_line(
    phone: str, fields: dict, location: tuple[str, str, str, str], list_names: tuple[str, ...], consent: dict | None
) -> str:
    """A contact's row of the staging table as a line of COPY text (what psycopg's `write_row` sends).

    `location`: the contact's country and zone fields as their cells (`location_cells`), which the reading
    processes format once for all the numbers sharing them.
    """
    line = contact_cells(phone, fields, location) + "\t" + _list_cell(list_names)
    if consent is None:
        return line + NO_CONSENT
    purpose, source, evidence = str(consent["purpose"]), consent["source"], consent["evidence"]
    revoked_at = consent["revoked_at"]
    cells = (purpose, source, evidence, consent["given_at"].isoformat(), revoked_at.isoformat() if revoked_at else None)
    return "\t".join([line, *("\\N" if cell is None else cell.translate(COPY_ESCAPES) for cell in cells)]) + "\n"


def new_contact_line(phone: str, fields: dict, location: tuple[str, str, str, str], created_at: str) -> str:
    """A new contact's row of contacts itself as a line of COPY text (`_NEW_COLUMNS`), created and updated
    at `created_at` (`PostgresCopyWriter.begin`)."""
    return contact_cells(phone, fields, location) + "\t" + created_at + "\t" + created_at + "\n"


def contact_cells(phone: str, fields: dict, location: tuple[str, str, str, str]) -> str:
    """The contact's columns (phone, then CONTACT_FIELDS) as COPY text, tab-separated. Runs in the reading
    processes for every row of a big file, so the common case (no tab, newline or backslash in any
    value) is one join and one check."""
    custom = fields["custom_fields"]
    values = (
        phone,
        fields["first_name"],
        fields["last_name"],
        fields["email"],
        fields["language"],
        *location,
        json_object(custom) if custom else "{}",
    )
    line = "\t".join(values)
    if line.count("\t") != len(values) - 1 or _NEEDS_ESCAPE.search(line):
        line = "\t".join([value.translate(COPY_ESCAPES) for value in values])
    return line


def location_cells(location: dict) -> tuple[str, str, str, str]:
    """The country and zone fields of a contact (`location_fields`, or a contact's fields) as stage cells."""
    zones = zones_json(tuple(location["time_zone_candidates"]))
    return location["country"], location["time_zone"], zones, "t" if location["time_zone_ambiguous"] else "f"


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
def _list_cell(names: tuple[str, ...]) -> str:
    return list_array(names).translate(COPY_ESCAPES)


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
