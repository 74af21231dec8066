"""Reads about contacts: who must not be called, who agreed to what, and what an import did."""

import datetime
from collections.abc import Iterable

from django.db import connection
from django.db.models import Q
from django.db.models.expressions import RawSQL

from contacts.models import Consent, Contact, ContactImportJob, Suppression
from contacts.personal_data import personal_data_holders


def in_values(values: Iterable[object]) -> object:
    """`values` for an `__in` lookup. On PostgreSQL a long list goes as one array parameter: a 5,000-value
    `IN (%s, …)` costs the driver more to build than the database needs to run it."""
    values = list(values)
    if connection.vendor == "postgresql" and len(values) > 100:
        if all(isinstance(value, int) for value in values):
            return RawSQL("SELECT unnest(%s::bigint[])", ("{" + ",".join(map(str, values)) + "}",))
        # Array literal built here: quoting each element is cheaper than the driver's per-item dump, and
        # when no element holds a quote or backslash (phone numbers never do) one join quotes them all.
        texts = list(map(str, values))
        joined = '","'.join(texts)
        if "\\" in joined or joined.count('"') != 2 * (len(texts) - 1):
            joined = '","'.join(text.replace("\\", "\\\\").replace('"', '\\"') for text in texts)
        literal = '{"' + joined + '"}'
        return RawSQL("SELECT unnest(%s::text[])", (literal,))
    return values


def is_suppressed(phone: str) -> bool:
    """Whether an E.164 number is on the do-not-call list now (the dial gate calls this)."""
    return Suppression.objects.active().filter(phone=phone).exists()


def suppressed_phones(phones: Iterable[str]) -> set[str]:
    """The numbers among `phones` (E.164) that are suppressed now, in one query."""
    wanted = set(phones)
    if not wanted:
        return set()
    return set(Suppression.objects.active().filter(phone__in=in_values(wanted)).values_list("phone", flat=True))


def contact_ids_with_active_consent(*, contact_ids: Iterable[int], purpose: str, at: datetime.datetime) -> set[int]:
    """The contacts among `contact_ids` whose consent for `purpose` holds at `at`.

    A consent holds when it was given at or before `at` and not revoked by then (a revocation at
    exactly `at` has taken effect).
    """
    wanted = set(contact_ids)
    if not wanted:
        return set()
    return set(
        Consent.objects.filter(contact_id__in=in_values(wanted), purpose=purpose, given_at__lte=at)
        .filter(Q(revoked_at__isnull=True) | Q(revoked_at__gt=at))
        .values_list("contact_id", flat=True)
    )


def import_job_progress(*, job: ContactImportJob) -> dict[str, object]:
    """What the admin's progress page shows about an import, as JSON-ready values."""
    return {
        "id": job.pk,
        "status": job.status,
        "status_display": job.get_status_display(),
        "total_rows": job.total_rows,
        "processed_rows": job.processed_rows,
        "percent": job.percent,
        "created": job.created_count,
        "updated": job.updated_count,
        "unchanged": job.unchanged_count,
        "skipped": job.skipped_count,
        "rejected": job.rejected_count,
        "warnings": job.warnings,
        "error": job.error,
        "finished": job.status in (ContactImportJob.Status.DONE, ContactImportJob.Status.FAILED),
    }


def contact_personal_data(*, contact: Contact) -> dict[str, object]:
    """Everything Callwright holds about one person (GDPR Art. 15): contact, consents, suppressions, and
    what each app above contacts holds (calls and transcripts), from its registered `PersonalDataHolder`."""
    return {
        "contact": {
            "id": contact.pk,
            "first_name": contact.first_name,
            "last_name": contact.last_name,
            "phone": contact.phone,
            "email": contact.email,
            "country": contact.country,
            "time_zone": contact.time_zone,
            "language": contact.language,
            "custom_fields": contact.custom_fields,
            "lists": list(contact.lists.values_list("name", flat=True)),
            "created_at": _iso(contact.created_at),
            "updated_at": _iso(contact.updated_at),
            "erased_at": _iso(contact.erased_at),
        },
        "consents": [
            {
                "purpose": consent.purpose,
                "source": consent.source,
                "evidence": consent.evidence,
                "given_at": _iso(consent.given_at),
                "revoked_at": _iso(consent.revoked_at),
            }
            for consent in contact.consents.all()
        ],
        "suppressions": [
            {"reason": s.reason, "source": s.source, "created_at": _iso(s.created_at), "lifted_at": _iso(s.lifted_at)}
            for s in Suppression.objects.filter(phone=contact.phone)
        ]
        if contact.phone
        else [],
        **{holder.section: holder.export(contact) for holder in personal_data_holders()},
    }


def _iso(value: datetime.datetime | None) -> str | None:
    return value.isoformat() if value else None


# The contact's own fields a script may name as `{{variables}}`, beside its custom fields.
CONTACT_TEMPLATE_FIELDS = ("first_name", "last_name", "full_name", "email", "language")


def contact_template_fields(*, contact: Contact) -> dict[str, object]:
    """The values of `CONTACT_TEMPLATE_FIELDS` for one contact (custom fields come separately)."""
    return {name: getattr(contact, name) for name in CONTACT_TEMPLATE_FIELDS}


def custom_field_names() -> list[str]:
    """Every name any contact's custom fields hold, sorted: the other names a script may use.

    One query that reads the JSON keys in the database (PostgreSQL's `jsonb_object_keys`, SQLite's
    `json_each`), not every contact's fields in Python.
    """
    table = connection.ops.quote_name(Contact._meta.db_table)
    if connection.vendor == "postgresql":
        sql = (f"SELECT DISTINCT jsonb_object_keys(custom_fields) FROM {table} "  # noqa: S608 - table name, no input
               "WHERE jsonb_typeof(custom_fields) = 'object'")  # fmt: skip
    elif connection.vendor == "sqlite":
        sql = (f"SELECT DISTINCT field.key FROM {table}, json_each({table}.custom_fields) AS field "  # noqa: S608
               f"WHERE json_type({table}.custom_fields) = 'object'")  # fmt: skip
    else:
        names = set()
        for fields in Contact.objects.values_list("custom_fields", flat=True).iterator():
            names.update(fields if isinstance(fields, dict) else ())
        return sorted(names)
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return sorted(row[0] for row in cursor.fetchall())
