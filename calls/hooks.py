"""How `calls` tells higher apps that a call ended, without importing them.

`campaigns` registers a handler in its AppConfig.ready(); `calls` runs every handler after the
transaction that made a call terminal commits, with the call's id. Handlers must be idempotent:
a replayed terminal callback never calls them twice (the transition happens once), but a crash
between commit and handler is possible, so the reaper may call them again.
"""

import logging
import uuid
from collections.abc import Callable

from django.db import transaction

logger = logging.getLogger(__name__)

CallFinishedHandler = Callable[[uuid.UUID], None]
_call_finished_handlers: list[CallFinishedHandler] = []


def register_call_finished(handler: CallFinishedHandler) -> None:
    if handler not in _call_finished_handlers:
        _call_finished_handlers.append(handler)


def notify_call_finished_on_commit(call_id: uuid.UUID) -> None:
    """Schedule every registered handler for after the current transaction commits."""

    def run_handlers() -> None:
        for handler in list(_call_finished_handlers):
            try:
                handler(call_id)
            except Exception:
                # One failing handler must not stop the others; the reaper retries settlement.
                logger.exception("call-finished handler %s failed for call %s", handler.__qualname__, call_id)

    transaction.on_commit(run_handlers)
