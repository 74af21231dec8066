"""How `contacts` tells higher apps what happened, without importing them (the way the calls app tells its own).

Contact events, each run after the transaction that caused it commits, with the id of the row concerned:

- `opted_out`: a person asked, during a call, not to be called again (the `Suppression`'s id);
- `import_finished`: a contact import job ended, done or failed (the `ContactImportJob`'s id).

Handlers must be idempotent and quick (enqueue work); one that fails is logged and never stops the others.
"""

import logging
from collections.abc import Callable

from django.db import transaction

logger = logging.getLogger(__name__)

CONTACT_EVENTS = ("opted_out", "import_finished")
ContactEventHandler = Callable[[str, int], None]
_handlers: list[ContactEventHandler] = []


def register_contact_event(handler: ContactEventHandler) -> None:
    if handler not in _handlers:
        _handlers.append(handler)


def unregister_contact_event(handler: ContactEventHandler) -> None:
    if handler in _handlers:
        _handlers.remove(handler)


def notify_contact_event_on_commit(event: str, object_id: int) -> None:
    if event not in CONTACT_EVENTS:
        raise ValueError(f"{event!r} is not a contact event; one of {', '.join(CONTACT_EVENTS)}.")

    def run_handlers() -> None:
        for handler in list(_handlers):
            try:
                handler(event, object_id)
            except Exception:
                logger.exception("contact-event handler %s failed for %s %s", handler.__qualname__, event, object_id)

    transaction.on_commit(run_handlers)
