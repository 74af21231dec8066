"""Writing decided rows to the database: the only backend-specific part of import.

`OrmBulkWriter` works everywhere (SQLite for `make run`, and PostgreSQL): per chunk, one upsert of
the contacts (`INSERT … ON CONFLICT (phone) DO UPDATE`), their list memberships and consents.
`PostgresCopyWriter` streams the rows with COPY into a temporary staging table and merges it with
one statement per table at the end — the fast path on PostgreSQL. Both write exactly the values the
row rules decided; neither decides anything.
"""

import functools
import json
from collections.abc import Iterable

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from psycopg import Copy
from psycopg.copy import QueuedLibpqWriter

from contacts.importing.rules import CONTACT_FIELDS, RowDecision
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


class PostgresCopyWriter(OrmBulkWriter):
    """COPY each chunk into a temporary table; merge it into contacts, lists and consents at the end.

    The staging table lives in this connection's session only; the merge is one transaction, so a
    failure leaves no contact half-imported (the job can run again: every statement is an upsert).
    It has no index: the rules already let each number through once, and should they not, the
    contacts merge fails ("cannot affect row a second time") instead of picking one.
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.has_lists = self.has_consents = False
        self._list_arrays: dict[tuple[str, ...], str] = {}
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS contact_import_stage")
            cursor.execute(
                """CREATE TEMPORARY TABLE contact_import_stage (
                    phone varchar(16), first_name text, last_name text, email text, language text,
                    country text, time_zone text, time_zone_candidates jsonb, time_zone_ambiguous boolean,
                    custom_fields jsonb, list_ids bigint[], consent_purpose text, consent_source text,
                    consent_evidence text, consent_given_at timestamptz, consent_revoked_at timestamptz)"""
            )

    def write(self, decisions: list[RowDecision]) -> None:
        written = [decision for decision in decisions if decision.outcome.is_written]
        if written:
            # Queued: a thread sends the rows while this one formats the next, so PostgreSQL's work on
            # them overlaps ours instead of following it.
            with connection.cursor() as cursor, cursor.copy(COPY_STAGE, writer=QueuedLibpqWriter(cursor)) as copy:
                self._copy_rows(copy, written)
        issues = [d for d in decisions if d.outcome.is_issue]
        if issues and self.job is not None:
            # COPY here too: the ORM adapts each JSON parameter one by one, which cost more than the contacts.
            with (
                connection.cursor() as cursor,
                cursor.copy(
                    "COPY contacts_contactimportissue (job_id, row_number, outcome, reason, values) FROM STDIN"
                ) as copy,
            ):
                for d in issues:
                    copy.write_row((self.job.pk, d.row_number, d.outcome.value, d.reason, json.dumps(d.cells)))

    def _copy_rows(self, copy: Copy, written: list[RowDecision]) -> None:
        write_row, dumps, list_array = copy.write_row, json.dumps, self._list_array
        for d in written:
            fields, consent = d.fields, d.consent
            lists = list_array(d.list_names)
            self.has_lists = self.has_lists or lists != "{}"
            if consent is None:
                consent_values = (None, None, None, None, None)
            else:
                self.has_consents = True
                consent_values = (consent["purpose"], consent["source"], consent["evidence"], consent["given_at"],
                                  consent["revoked_at"])  # fmt: skip
            write_row(
                (
                    d.phone,
                    fields["first_name"],
                    fields["last_name"],
                    fields["email"],
                    fields["language"],
                    fields["country"],
                    fields["time_zone"],
                    zones_json(tuple(fields["time_zone_candidates"])),
                    fields["time_zone_ambiguous"],
                    dumps(fields["custom_fields"]),
                    lists,
                    *consent_values,
                )
            )

    def _list_array(self, names: tuple[str, ...]) -> str:
        """The lists a row goes in, as an array literal; a file names few combinations, so each is built once
        (a name's id never changes once the rules have looked it up)."""
        array = self._list_arrays.get(names)
        if array is None:
            array = self._list_arrays[names] = "{" + ",".join(map(str, sorted(self._target_list_ids(names)))) + "}"
        return array

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
MERGE_LISTS = """
    INSERT INTO contacts_contact_lists (contact_id, contactlist_id)
    SELECT c.id, unnest(s.list_ids) FROM contact_import_stage s JOIN contacts_contact c ON c.phone = s.phone
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


@functools.lru_cache(maxsize=1024)
def zones_json(zones: tuple[str, ...]) -> str:
    return json.dumps(list(zones))  # a file has few distinct zone lists: encode each once


def writer_for(*, job: ContactImportJob | None, contact_list: ContactList | None, list_ids: dict) -> OrmBulkWriter:
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
