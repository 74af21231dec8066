"""What apps above contacts hold about a person, for an access request (GDPR Art. 15) and an erasure (Art. 17).

contacts cannot import the apps that depend on it, nor read or write their tables. Each app that keeps
personal data about a contact registers a `PersonalDataHolder` in its AppConfig.ready() (calls: the
calls, their events and transcripts); the export and the erasure ask every holder.
"""

from collections.abc import Callable
from dataclasses import dataclass

from contacts.models import Contact


@dataclass(frozen=True)
class PersonalDataHolder:
    """`export(contact)` lists what the app holds about the person (JSON-ready); `erase(contact)` removes or
    anonymises it inside the erasure's transaction and returns how many records it changed."""

    section: str
    export: Callable[[Contact], list[dict[str, object]]]
    erase: Callable[[Contact], int]


_holders: dict[str, PersonalDataHolder] = {}


def register_personal_data_holder(holder: PersonalDataHolder) -> None:
    _holders[holder.section] = holder


def personal_data_holders() -> list[PersonalDataHolder]:
    return list(_holders.values())
