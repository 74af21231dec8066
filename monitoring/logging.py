"""Logging: phone numbers masked, the call id on every line about a call, JSON in production.

Each run of 7–15 digits that reads as a phone number (optionally with +, spaces, dashes and
parentheses) keeps only its last four digits: `+14155550123` → `+***0123`. The filter renders the
message (and any traceback) itself, so numbers passed as `%s` arguments are masked too.

The call a line concerns comes from a context variable, `CALL_ID`, bound by `call_context`: by
`CallContextMiddleware` for a request or media stream whose path names a call (the Twilio webhooks and the
media WebSocket; tasks the session spawns inherit it), and by a Celery signal for a task given a `call_id`
(monitoring/celery_metrics.py). `CallIdFilter` puts it on each record (`call_id`, and `call` = "call=<id> "
for the plain format), so no log call has to pass it.

`LOG_FORMAT=json` (production) writes one JSON object a line (python-json-logger), with the traceback and
every string field masked as well.
"""

import contextlib
import logging
import re
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger import json as json_logging

# Not inside a word, a decimal or a dashed identifier (UUIDs), and never an ISO date.
PHONE_NUMBER = re.compile(r"(?<![\w.-])(?!\d{4}-\d\d-\d\d(?!\d))(\+?)\(?\d(?:[ ()-]{0,2}\d){6,14}(?![\w-])")


def mask_phone_numbers(text: str) -> str:
    def mask(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group(0))
        return f"{match.group(1)}***{digits[-4:]}"

    return PHONE_NUMBER.sub(mask, text)


class PhoneNumberMaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = mask_phone_numbers(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_phone_numbers(record.exc_text)
        return True


CALL_ID: ContextVar[str] = ContextVar("callwright_call_id", default="")


@contextlib.contextmanager
def call_context(call_id: object) -> Iterator[None]:
    """Every log line written inside (and in tasks started inside) carries this call id."""
    token = CALL_ID.set(str(call_id))
    try:
        yield
    finally:
        CALL_ID.reset(token)


class CallIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        call_id = CALL_ID.get()
        record.call_id = call_id
        record.call = f"call={call_id} " if call_id else ""
        return True


class JsonFormatter(json_logging.JsonFormatter):
    """python-json-logger's formatter, masking phone numbers in the traceback and in every string field."""

    def formatException(self, ei: Any) -> str:
        return mask_phone_numbers(super().formatException(ei))

    def process_log_record(self, log_record: dict[str, Any]) -> dict[str, Any]:
        if not log_record.get("call_id"):
            log_record.pop("call_id", None)
        log_record.pop("call", None)
        return {key: mask_phone_numbers(v) if isinstance(v, str) else v for key, v in log_record.items()}


Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


class CallContextMiddleware:
    """ASGI middleware: a request or WebSocket whose path matches `path_pattern` (with a `call_id` group) runs
    inside `call_context`, so every line it logs — and every line of the tasks it spawns — names the call."""

    def __init__(self, app: ASGIApp, *, path_pattern: re.Pattern[str]) -> None:
        self.app = app
        self.path_pattern = path_pattern

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        match = self.path_pattern.match(scope.get("path", "")) if scope["type"] in ("http", "websocket") else None
        if match is None:
            await self.app(scope, receive, send)
            return
        with call_context(match.group("call_id")):
            await self.app(scope, receive, send)
