"""Writes to contacts, suppressions and consents. Phone numbers always go through `parse_phone_number` first."""

import itertools
from dataclasses import dataclass, field
from typing import BinaryIO

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, models, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext

from contacts.hooks import notify_contact_event_on_commit
from contacts.importing.columns import map_columns
from contacts.importing.files import open_table
from contacts.models import Contact, ContactList, OperatorAction, Suppression
from contacts.personal_data import personal_data_holders
from contacts.phone_numbers import (
    ParsedPhoneNumber,
    parse_contact_phone_number,
    parse_phone_number,
    parse_phone_number_or_reason,
)
from contacts.selectors import contact_personal_data, suppressed_phones
from monitoring.metrics import SUPPRESSIONS_ADDED


def location_fields(parsed: ParsedPhoneNumber, *, country: str = "", time_zone: str = "") -> dict[str, object]:
    """Country and time-zone fields for a contact: what was given wins, the number fills the rest.

    A number spanning several zones with no zone given is flagged ambiguous, with every candidate
    kept, so the dial gate can apply the strictest of them.
    """
    candidates = list(parsed.time_zones)
    chosen_zone = time_zone or parsed.time_zone
    return {
        "country": country or parsed.region,
        "time_zone": chosen_zone,
        "time_zone_candidates": candidates,
        "time_zone_ambiguous": not chosen_zone and len(candidates) > 1,
    }


@transaction.atomic
def contact_upsert(
    *,
    phone: str,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    language: str = "",
    time_zone: str = "",
    custom_fields: dict | None = None,
    lists: list[ContactList] | None = None,
) -> tuple[Contact, bool]:
    """Create the contact with this phone number, or update the one that has it; return (contact, created).

    Raises `InvalidPhoneNumber` with a reason for the operator when the number cannot be dialled or is of
    a type contacts may not have (settings.CONTACT_REFUSED_NUMBER_TYPES).
    """
    parsed = parse_contact_phone_number(phone)
    contact, created = Contact.objects.update_or_create(
        phone=parsed.e164,
        defaults={
            "first_name": first_name,
            "last_name": last_name,
            "email": email,
            "language": language,
            "custom_fields": custom_fields or {},
            **location_fields(parsed, time_zone=time_zone),
        },
    )
    if lists:
        contact.lists.add(*lists)
    return contact, created


@transaction.atomic
def contact_update(*, contact: Contact, lists: list[ContactList] | None = None, **fields: object) -> Contact:
    """Change a contact's fields (only those given); a new `phone` is parsed as on create, and country and
    zone follow it unless given. `lists` replaces its lists. Raises `InvalidPhoneNumber` with the reason;
    an erased contact cannot be changed (ValueError)."""
    if contact.erased_at is not None:
        raise ValueError("This contact's data was erased on request; it cannot be changed.")
    if "phone" in fields:
        parsed = parse_contact_phone_number(str(fields.pop("phone")))
        contact.phone = parsed.e164
        location = location_fields(parsed, time_zone=str(fields.pop("time_zone", "") or ""))
        fields = {**location, **fields}
    for name, value in fields.items():
        setattr(contact, name, value)
    contact.save()
    if lists is not None:
        contact.lists.set(lists)
    return contact


def operator_action_record(
    *,
    actor: AbstractBaseUser | None,
    action: OperatorAction.Action,
    target: models.Model,
    details: dict | None = None,
) -> OperatorAction:
    """Append one entry to the audit log of operator actions.

    The target is named by model and id only, never by name or number: the log outlives erasure. An
    unsaved instance stands for "several of this model" (a file of suppressions).
    """
    return OperatorAction.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        target_type=target._meta.label,
        target_id="" if target.pk is None else str(target.pk),
        target_repr=f"{target._meta.verbose_name} #{target.pk}"
        if target.pk is not None
        else str(target._meta.verbose_name_plural),
        details=details or {},
    )


def suppression_add(
    *, phone: str, reason: str, source: Suppression.Source, created_by: AbstractBaseUser | None = None
) -> Suppression:
    """Put a number on the do-not-call list; return its active suppression.

    Idempotent: when the number is already suppressed, the first record is kept (its reason, source
    and time) and returned. `phone` may be in any format; `InvalidPhoneNumber` says why it is refused.
    Safe against a concurrent add of the same number: the database allows one active row per number.
    """
    e164 = parse_phone_number(phone).e164
    existing = Suppression.objects.active().filter(phone=e164).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            suppression = Suppression.objects.create(
                phone=e164, reason=reason[:255], source=source, created_by=created_by
            )
    except IntegrityError:
        return Suppression.objects.active().get(phone=e164)
    SUPPRESSIONS_ADDED.labels(source=source).inc()
    if source == Suppression.Source.OPT_OUT:
        notify_contact_event_on_commit("opted_out", suppression.pk)
    if created_by is not None:
        operator_action_record(
            actor=created_by,
            action=OperatorAction.Action.SUPPRESSION_ADD,
            target=suppression,
            details={"source": source, "reason": reason},
        )
    return suppression


def suppression_remove(
    *, phone: str, lifted_by: AbstractBaseUser | None = None, reason: str = ""
) -> Suppression | None:
    """Lift the active suppression of a number, so it may be called again; return it (None if there was none).

    Nothing is deleted: the suppression keeps who lifted it, when and why (conditional UPDATE, so two
    operators lifting at once lift it once).
    """
    e164 = parse_phone_number(phone).e164
    suppression = Suppression.objects.active().filter(phone=e164).first()
    if suppression is None:
        return None
    lifted = Suppression.objects.filter(pk=suppression.pk, lifted_at__isnull=True).update(
        lifted_at=timezone.now(), lifted_by=lifted_by, lift_reason=reason[:255]
    )
    if not lifted:
        return None
    suppression.refresh_from_db()
    operator_action_record(
        actor=lifted_by, action=OperatorAction.Action.SUPPRESSION_LIFT, target=suppression, details={"reason": reason}
    )
    return suppression


def contact_data_export(*, contact: Contact, actor: AbstractBaseUser | None) -> dict[str, object]:
    """Everything held about the person (for an access request), recorded in the audit log."""
    data = contact_personal_data(contact=contact)
    operator_action_record(actor=actor, action=OperatorAction.Action.EXPORT_PERSONAL_DATA, target=contact)
    return data


@transaction.atomic
def contact_erase(*, contact: Contact, actor: AbstractBaseUser | None) -> Contact:
    """Erase a person's data on request (GDPR Art. 17) and make sure they are never called again.

    The number goes on the do-not-call list first (an existing suppression is kept as it is); then
    the contact is anonymised in place (it stays as a tombstone so calls keep their foreign key),
    its consents lose their evidence text, and every registered `PersonalDataHolder` erases what its
    app holds (calls: the dialled number, recording links, summaries, extracted data, provider payloads
    and transcripts). Erasing twice does nothing more.
    """
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    if contact.erased_at is not None:
        return contact
    if contact.phone:
        suppression_add(
            phone=contact.phone,
            reason="Personal data erased on request",
            source=Suppression.Source.ERASURE,
            created_by=actor if actor is not None and actor.is_authenticated else None,
        )
    # What the apps above contacts hold (calls, transcripts) is erased by them, through their holders.
    erased = {f"{holder.section}_anonymised": holder.erase(contact) for holder in personal_data_holders()}
    contact.consents.update(evidence="")
    contact.lists.clear()
    Contact.objects.filter(pk=contact.pk).update(
        first_name="",
        last_name="",
        phone=None,
        email="",
        language="",
        custom_fields={},
        time_zone="",
        time_zone_candidates=[],
        time_zone_ambiguous=False,
        erased_at=timezone.now(),
        updated_at=timezone.now(),
    )
    operator_action_record(actor=actor, action=OperatorAction.Action.ERASE, target=contact, details=erased)
    contact.refresh_from_db()
    return contact


@dataclass
class SuppressionImportSummary:
    added: int = 0
    already_suppressed: int = 0
    invalid: list[str] = field(default_factory=list)  # "row 7: '12' is not a valid number …"


def suppression_import(
    *, stream: BinaryIO, file_format: str, reason: str, created_by: AbstractBaseUser | None
) -> SuppressionImportSummary:
    """Suppress every number in a file's phone column (CSV or XLSX), in batches; return what it did.

    Numbers already suppressed keep their first record; rows whose number cannot be read are listed
    and skipped, and never stop the others. Raises `ImportFileError` for a file without a phone column.
    """
    table = open_table(stream, file_format=file_format)
    columns = map_columns(table.headers)
    region = settings.DEFAULT_PHONE_REGION.upper()
    language = translation.get_language() or ""
    summary = SuppressionImportSummary()
    while batch := list(itertools.islice(table.rows, 2000)):
        phones: dict[str, int] = {}
        for number, cells in batch:
            parsed = parse_phone_number_or_reason(columns.cell(cells, "phone"), region, language)
            if isinstance(parsed, str):
                summary.invalid.append(gettext("row %(row)s: %(reason)s") % {"row": number, "reason": parsed})
            else:
                phones.setdefault(parsed.e164, number)
        known = suppressed_phones(phones)
        summary.already_suppressed += len(known)
        new = [
            Suppression(phone=phone, reason=reason[:255], source=Suppression.Source.IMPORT, created_by=created_by)
            for phone in phones
            if phone not in known
        ]
        # A concurrent add of the same number wins; the partial unique index keeps one active row.
        Suppression.objects.bulk_create(new, ignore_conflicts=True)
        summary.added += len(new)
    operator_action_record(
        actor=created_by,
        action=OperatorAction.Action.SUPPRESSION_ADD,
        target=Suppression(),
        details={"file_import": True, "added": summary.added, "reason": reason},
    )
    return summary
