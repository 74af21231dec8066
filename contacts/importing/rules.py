"""The row rules of contact import: the one place that decides what happens to each row of a file.

The admin's preview and the background import both call `ContactRowRules.decide`, so what the
operator is shown is what is done. For each row, in order:

1. A row with more non-empty cells than the header has columns is rejected (its values are shifted:
   usually an unquoted delimiter inside a name).
2. The phone number is parsed (`contacts.phone_numbers`); a number that cannot be dialled rejects the row.
3. Email, time zone, language, name lengths and consent columns are checked; any bad one rejects the
   row, naming the column. A contact is never imported half-right.
4. A number seen earlier in the same file skips the row as a duplicate ("same number as row 12").
5. A number on the do-not-call list skips the row.
6. Otherwise the row creates a contact, or updates the one with that number. An update overwrites
   only what the row gives (an empty cell keeps the stored value) — but a name is one value: from a
   `name` column, or from first and last name columns both, a row that names the person replaces the
   whole stored name (first and last) — merges custom fields key by key,
   adds lists and consent and never removes them. A row that would change nothing is "unchanged",
   so importing the same file again changes nothing.
"""

import collections
import datetime
import enum
import functools
import operator
import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.utils import timezone, translation
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from contacts.importing.columns import ColumnMap
from contacts.models import Consent, ConsentPurpose, Contact, ContactList
from contacts.phone_numbers import (
    ParsedPhoneNumber,
    number_type_refusal,
    parse_phone_number_or_reason,
    refused_number_types,
)
from contacts.selectors import in_values, suppressed_phones
from contacts.services import location_fields

CONTACT_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "language",
    "country",
    "time_zone",
    "time_zone_candidates",
    "time_zone_ambiguous",
    "custom_fields",
)
LENGTH_LIMITS = {
    _("first name"): 150,
    _("last name"): 150,
    _("email"): 254,
    _("language"): 16,
    _("consent source"): 200,
}
# The known fields `RowReader` reads from every row, in the order `_read_row` unpacks them.
PICKED = ("first_name", "last_name", "name", "email", "language", "consent_source", "time_zone", "lists")
LIST_SEPARATORS = re.compile(r"[;,|]")
PURPOSE_WORDS = {
    "informational": ConsentPurpose.INFORMATIONAL,
    "info": ConsentPurpose.INFORMATIONAL,
    "yes": ConsentPurpose.INFORMATIONAL,
    "y": ConsentPurpose.INFORMATIONAL,
    "true": ConsentPurpose.INFORMATIONAL,
    "1": ConsentPurpose.INFORMATIONAL,
    "x": ConsentPurpose.INFORMATIONAL,
    "telemarketing": ConsentPurpose.TELEMARKETING,
    "marketing": ConsentPurpose.TELEMARKETING,
}
TIME_ZONES = frozenset(zoneinfo.available_timezones())


class _EmailValidator(EmailValidator):
    """Django's `validate_email`, with its patterns compiled once here: behind Django's lazy proxies,
    the lookups one call makes cost twice the matching (≈5 µs a row of a big file). A domain's answer
    depends on the domain only, and a file's addresses share a few domains: each is checked once (its
    pattern was half the validation's cost: the reading processes' instructions a row 256k → 252k)."""

    user_regex = re.compile(EmailValidator.user_regex.pattern, EmailValidator.user_regex.flags)
    domain_regex = re.compile(EmailValidator.domain_regex.pattern, EmailValidator.domain_regex.flags)
    literal_regex = re.compile(EmailValidator.literal_regex.pattern, EmailValidator.literal_regex.flags)
    __hash__ = object.__hash__  # one validator for the life of the process: its identity is its key

    def validate_domain_part(self, domain_part: str) -> bool:
        return _valid_domain(self, domain_part)


@functools.lru_cache(maxsize=4096)
def _valid_domain(validator: _EmailValidator, domain_part: str) -> bool:
    return EmailValidator.validate_domain_part(validator, domain_part)


validate_email = _EmailValidator()


class Outcome(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    DUPLICATE = "duplicate"
    SUPPRESSED = "suppressed"
    REJECTED = "rejected"

    @property
    def is_written(self) -> bool:
        return self in (Outcome.CREATE, Outcome.UPDATE)

    @property
    def is_issue(self) -> bool:
        return self in (Outcome.DUPLICATE, Outcome.SUPPRESSED, Outcome.REJECTED)


@dataclass(slots=True)
class RowDecision:
    row_number: int
    cells: list[str]
    outcome: Outcome = Outcome.CREATE
    reason: str = ""
    phone: str = ""
    fields: dict[str, object] = field(default_factory=dict)  # the contact's values after this row
    list_names: tuple[str, ...] = ()
    consent: dict[str, object] | None = None
    time_zone_given: str = ""
    parsed: ParsedPhoneNumber | None = None

    def reject(self, reason: str) -> "RowDecision":
        self.outcome, self.reason = Outcome.REJECTED, reason
        return self


class RowReader:
    """Rules 1–3: what a row says on its own, without the database (so worker processes can run it).

    Picklable: it holds the column map and the default region only. Runs once per row of every file,
    so the cells it needs are picked by index in one step (`_pick`), not looked up by name.
    """

    def __init__(self, *, columns: ColumnMap, default_region: str, partial_records: bool = False) -> None:
        self.columns = columns
        self.region = default_region.upper()
        # Every known field's column; a missing one points past the row, at the "" `_read_row` appends.
        self._pick = operator.itemgetter(*(columns.known.get(name, columns.width) for name in PICKED))
        self._split_name = "first_name" not in columns.known and "last_name" not in columns.known
        # A `name` column, or both first and last name columns, give a person's whole name: a row that names
        # someone replaces the stored name whole (a one-word name leaves no stored last name behind).
        # Records (the API's bulk upsert) update only the fields each gives: a name is never replaced whole.
        self.gives_whole_name = not partial_records and (
            self._split_name or ("first_name" in columns.known and "last_name" in columns.known)
        )
        self._has_consent = columns.has_consent
        self._refused_types = refused_number_types()
        self._language = translation.get_language() or ""  # the reasons' language, a cache key

    def read(self, rows: list[tuple[int, list[str]]]) -> list[RowDecision]:
        phone, region, read_row = self.columns.phone, self.region, self._read_row
        return [
            read_row(
                number,
                cells,
                parse_phone_number_or_reason(cells[phone] if phone < len(cells) else "", region, self._language),
            )
            for number, cells in rows
        ]

    def _read_row(self, number: int, cells: list[str], phone: ParsedPhoneNumber | str) -> RowDecision:
        width = self.columns.width
        if len(cells) > width and any(cells[width:]):
            return RowDecision(number, cells).reject(
                gettext(
                    "The row has %(cells)d cells but the header has %(width)d columns; "
                    "check for an unquoted delimiter inside a value."
                )
                % {"cells": len(cells), "width": width}
            )
        if isinstance(phone, str):
            return RowDecision(number, cells).reject(phone)
        if phone.number_type in self._refused_types:
            return RowDecision(number, cells).reject(number_type_refusal(phone, self._refused_types))
        decision = RowDecision(number, cells, phone=phone.e164, parsed=phone)
        padded = cells + [""] * (width + 1 - len(cells))
        first, last, name, email, language, consent_source, time_zone, lists = self._pick(padded)
        if self._split_name:
            first, _, last = name.partition(" ")
            last = last.strip()
        # The columns' lengths (the model's max_length) checked in one expression; the loop names the culprit.
        if len(first) > 150 or len(last) > 150 or len(email) > 254 or len(language) > 16 or len(consent_source) > 200:
            values = (first, last, email, language, consent_source)
            for value, (label, limit) in zip(values, LENGTH_LIMITS.items(), strict=True):
                if len(value) > limit:
                    return decision.reject(
                        gettext("The %(label)s is longer than %(limit)d characters.") % {"label": label, "limit": limit}
                    )
        if email:
            try:
                validate_email(email)
            except ValidationError:
                return decision.reject(gettext("%(email)r is not an email address.") % {"email": email})
        if time_zone and time_zone not in TIME_ZONES:
            return decision.reject(
                gettext("%(zone)r is not an IANA time zone (e.g. America/New_York).") % {"zone": time_zone}
            )
        decision.time_zone_given = time_zone
        if self._has_consent:
            reason = self._read_consent(decision, cells, consent_source)
            if reason:
                return decision.reject(reason)
        decision.fields = {
            "first_name": first,
            "last_name": last,
            "email": email,
            "language": language,
            "custom_fields": {key: padded[index] for index, key in self.columns.custom if padded[index]},
        }
        if lists:
            names = [name.strip() for name in LIST_SEPARATORS.split(lists)]
            decision.list_names = tuple(dict.fromkeys(name[:200] for name in names if name))
        return decision

    def _read_consent(self, decision: RowDecision, cells: list[str], source: str) -> str:
        purpose_text = self.columns.cell(cells, "consent_purpose")
        given_text = self.columns.cell(cells, "consent_given_at")
        revoked_text = self.columns.cell(cells, "consent_revoked_at")
        if not (purpose_text or given_text or revoked_text):
            return ""
        purpose = PURPOSE_WORDS.get(purpose_text.strip().lower())
        if purpose is None:
            return gettext("Consent %(purpose)r is not a purpose; use 'informational' or 'telemarketing'.") % {
                "purpose": purpose_text
            }
        given_at = parse_moment(given_text)
        if given_at is None:
            return gettext("Consent date %(date)r is missing or not a date; use YYYY-MM-DD or YYYY-MM-DD HH:MM.") % {
                "date": given_text
            }
        revoked_at = parse_moment(revoked_text) if revoked_text else None
        if revoked_text and revoked_at is None:
            return gettext("Consent revocation date %(date)r is not a date; use YYYY-MM-DD.") % {"date": revoked_text}
        if revoked_at and revoked_at < given_at:
            return gettext("Consent is revoked before it was given.")
        decision.consent = {
            "purpose": purpose,
            "source": source or "file import",
            "evidence": self.columns.cell(cells, "consent_evidence"),
            "given_at": given_at,
            "revoked_at": revoked_at,
        }
        return ""


@dataclass(slots=True)
class StagedChunk:
    """A chunk as a reading process sends it back for the COPY path (`parsing.stage_rows`): compact, with
    the rows that passed rules 1–3 already formatted as stage lines for a new contact, all in one string.

    `indexes[k]` is the position in the chunk of the k-th such row, `phones[k]` its number, `ends[k]` where
    its line ends in `lines`; `list_names[k]` its lists, or `list_names` is None when no row names any.
    """

    rejected: list[tuple[int, str]]  # (position in the chunk, reason)
    indexes: list[int]
    phones: list[str]
    lines: str
    ends: list[int]
    list_names: list[tuple[str, ...]] | None
    has_consent: bool
    # When asked (a file whose numbers are already stored): each such row as read, packed (`parsing._pack`),
    # so that the importing process need not read it again to merge it with its contact; there
    # `read_again(positions)` unpacks them.
    packed: list[tuple] | None = None
    read_again: Callable[[list[int]], list[RowDecision]] | None = None


@dataclass(slots=True)
class StagedBatch:
    """What rules 4–6 made of a `StagedChunk`: the stage lines of its new contacts as they came, the
    decisions of rows that meet a stored contact, the rows not imported, and the count of each outcome."""

    new_lines: str
    merged: list[RowDecision]  # UPDATE or UNCHANGED (CREATE should the contact have gone meanwhile)
    issues: list[tuple[int, str, str, list[str]]]  # (row number, outcome, reason, cells)
    counts: dict[Outcome, int]


class ContactRowRules:
    """Decides rows chunk by chunk (rules 4–6), remembering the numbers already seen in the file.

    `create_lists`: the import creates lists named in a "lists" column; the preview only looks them up.
    `partial_records`: each row updates only the values it gives (API records), never a stored name whole.
    """

    def __init__(
        self,
        *,
        columns: ColumnMap,
        contact_list: ContactList | None,
        default_region: str,
        create_lists: bool,
        partial_records: bool = False,
    ) -> None:
        self.reader = RowReader(columns=columns, default_region=default_region, partial_records=partial_records)
        self.contact_list = contact_list
        self.create_lists = create_lists
        self.first_row_of_phone: dict[str, int] = {}
        self.list_ids: dict[str, int | None] = {}

    def decide(self, rows: list[tuple[int, list[str]]], read: list[RowDecision] | None = None) -> list[RowDecision]:
        """Decide a chunk of rows, in file order. `read`: the chunk already read by `RowReader.read`
        (e.g. in a worker process); when absent it is read here."""
        decisions = self.reader.read(rows) if read is None else read
        candidates = [decision for decision in decisions if decision.outcome == Outcome.CREATE]
        skips = self.screen([decision.phone for decision in candidates], [d.row_number for d in candidates])
        for decision, skip in zip(candidates, skips, strict=True):
            if skip is not None:
                decision.outcome, decision.reason = skip
        self._merge_with_stored([decision for decision in candidates if decision.outcome == Outcome.CREATE])
        return decisions

    def decide_staged(
        self, rows: list[tuple[int, list[str]]], staged: StagedChunk, *, look_up_stored: bool = True
    ) -> StagedBatch:
        """`decide` for a chunk read by `parsing.stage_rows`, with the same rules and outcomes: rows for a new
        number keep the line the reading process formatted; rows meeting a stored contact are read again
        here and merged with it (rule 6), as `decide` does.

        `look_up_stored=False`: rule 6 is left to the database — every number that goes on is taken for a
        new one, to be written by a plain INSERT whose unique index checks each number anyway. Should one
        be stored after all, that INSERT fails (`writers.NumbersAlreadyStored`) and the chunk is decided
        again with the lookup; deciding a chunk twice gives the same outcomes (a row is its own first row).
        """
        indexes, phones = staged.indexes, staged.phones
        skips = self.screen(phones, [rows[index][0] for index in indexes])
        going_on = [k for k, skip in enumerate(skips) if skip is None]
        stored = self.stored_phones([phones[k] for k in going_on]) if look_up_stored else set()
        if staged.list_names is not None:
            self._list_ids({name for k in going_on for name in staged.list_names[k]})  # creates the new ones
        new = [k for k in going_on if phones[k] not in stored] if stored else going_on
        if len(new) == len(indexes):
            new_lines = staged.lines
        else:
            ends, lines = staged.ends, staged.lines
            new_lines = "".join([lines[ends[k - 1] if k else 0 : ends[k]] for k in new])
        again = [k for k in going_on if phones[k] in stored] if stored else []
        if staged.read_again is not None:
            merged = staged.read_again(again)
        else:
            merged = self.reader.read([rows[indexes[k]] for k in again]) if again else []
        self._merge_with_stored(merged)
        issues = [(rows[index][0], Outcome.REJECTED.value, reason, rows[index][1]) for index, reason in staged.rejected]
        issues += [
            (rows[indexes[k]][0], skip[0].value, skip[1], rows[indexes[k]][1])
            for k, skip in enumerate(skips)
            if skip is not None
        ]
        counts = collections.Counter(skip[0] for skip in skips if skip is not None)
        counts.update(decision.outcome for decision in merged)
        counts[Outcome.CREATE] += len(new)
        counts[Outcome.REJECTED] += len(staged.rejected)
        return StagedBatch(new_lines, merged, issues, counts)

    def screen(self, phones: list[str], row_numbers: list[int]) -> list[tuple[Outcome, str] | None]:
        """Rules 4 and 5 for a chunk's rows that passed rules 1–3, given by number and row: per row, the
        outcome and reason that skip it, or None when it goes on to rule 6."""
        first_row_of_phone = self.first_row_of_phone
        skips: list[tuple[Outcome, str] | None] = []
        for phone, row_number in zip(phones, row_numbers, strict=True):
            first = first_row_of_phone.setdefault(phone, row_number)
            skips.append(
                None
                if first == row_number
                else (Outcome.DUPLICATE, gettext("Same number as row %(row)s.") % {"row": first})
            )
        suppressed = suppressed_phones(phone for phone, skip in zip(phones, skips, strict=True) if skip is None)
        if suppressed:
            skips = [
                (Outcome.SUPPRESSED, gettext("The number is on the do-not-call list."))
                if skip is None and phone in suppressed
                else skip
                for phone, skip in zip(phones, skips, strict=True)
            ]
        return skips

    def stored_phones(self, phones: list[str]) -> set[str]:
        """Which of these numbers already belong to a contact (rule 6 then merges the row with it)."""
        if not phones:
            return set()
        return set(Contact.objects.filter(phone__in=in_values(phones)).values_list("phone", flat=True))

    # ---- against what is stored ---------------------------------------------------------------

    def _merge_with_stored(self, decisions: list[RowDecision]) -> None:
        if not decisions:
            return
        stored = {
            row["phone"]: row
            for row in Contact.objects.filter(phone__in=in_values(d.phone for d in decisions)).values(
                "id", "phone", *CONTACT_FIELDS
            )
        }
        wanted_lists = self._list_ids({name for d in decisions for name in d.list_names})
        memberships: set[tuple[int, int]] = set()
        stored_ids = [row["id"] for row in stored.values()]
        list_ids = {list_id for list_id in wanted_lists.values() if list_id} | (
            {self.contact_list.pk} if self.contact_list else set()
        )
        if stored_ids and list_ids:
            memberships = set(
                Contact.lists.through.objects.filter(
                    contact_id__in=in_values(stored_ids), contactlist_id__in=list_ids
                ).values_list("contact_id", "contactlist_id")
            )
        consents: dict[tuple[int, str, datetime.datetime], dict] = {}
        if stored_ids and any(d.consent for d in decisions):
            for consent in Consent.objects.filter(contact_id__in=in_values(stored_ids)).values(
                "contact_id", "purpose", "given_at", "revoked_at", "source", "evidence"
            ):
                consents[(consent["contact_id"], consent["purpose"], consent["given_at"])] = consent
        whole_name = self.reader.gives_whole_name
        for decision in decisions:
            row = stored.get(decision.phone)
            if row is None:
                decision.fields.update(new_contact_location(decision))
                decision.reason = gettext("New contact.")
                continue
            target_lists = {wanted_lists.get(name) for name in decision.list_names} | (
                {self.contact_list.pk} if self.contact_list else set()
            )
            merged = {
                name: (decision.fields.get(name) or row[name])
                for name in ("first_name", "last_name", "email", "language")
            }
            if whole_name and (decision.fields["first_name"] or decision.fields["last_name"]):
                merged["first_name"], merged["last_name"] = decision.fields["first_name"], decision.fields["last_name"]
            merged["custom_fields"] = {**row["custom_fields"], **decision.fields["custom_fields"]}
            merged.update(
                location_fields(
                    decision.parsed, country=row["country"], time_zone=decision.time_zone_given or row["time_zone"]
                )
            )
            changes = [
                str(Contact._meta.get_field(name).verbose_name) for name in CONTACT_FIELDS if merged[name] != row[name]
            ]
            if any(list_id is None or (row["id"], list_id) not in memberships for list_id in target_lists):
                changes.append(gettext("lists"))
            if decision.consent:
                key = (row["id"], decision.consent["purpose"], decision.consent["given_at"])
                known = consents.get(key)
                if known is None or any(
                    known[name] != decision.consent[name] for name in ("revoked_at", "source", "evidence")
                ):
                    changes.append(gettext("consent"))
            decision.fields = merged
            if changes:
                changed = ", ".join(dict.fromkeys(changes))
                decision.outcome, decision.reason = Outcome.UPDATE, gettext("Updates %(fields)s.") % {"fields": changed}
            else:
                decision.outcome, decision.reason = Outcome.UNCHANGED, gettext("Already imported; nothing changes.")

    def _list_ids(self, names: set[str]) -> dict[str, int | None]:
        missing = names - self.list_ids.keys()
        if missing:
            found = dict(ContactList.objects.filter(name__in=missing).values_list("name", "id"))
            for name in missing:
                if name not in found and self.create_lists:
                    found[name] = ContactList.objects.get_or_create(name=name)[0].pk
                self.list_ids[name] = found.get(name)
        return {name: self.list_ids[name] for name in names}


def new_contact_location(decision: RowDecision) -> dict[str, object]:
    """Rule 6 for a number no contact has: besides the row's fields, country and zone from the number
    (a zone given in the row wins)."""
    return location_fields(decision.parsed, time_zone=decision.time_zone_given)


def parse_moment(text: str) -> datetime.datetime | None:
    """An ISO date or date-time from a cell; naive times are read in UTC (TIME_ZONE). None if unreadable."""
    text = text.strip()
    if not text:
        return None
    try:
        moment = parse_datetime(text.replace("/", "-"))
        if moment is None:
            day = parse_date(text.replace("/", "-"))
            if day is None:
                return None
            moment = datetime.datetime.combine(day, datetime.time())
    except ValueError:
        return None
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment, datetime.UTC)
