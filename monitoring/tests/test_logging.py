import asyncio
import io
import json
import logging
import logging.config
import subprocess
import sys
from pathlib import Path

import pytest
import sentry_sdk
from celery import shared_task
from django.conf import settings
from sentry_sdk.integrations.logging import EventHandler
from sentry_sdk.transport import Transport

from monitoring.logging import (
    CALL_ID,
    CallContextMiddleware,
    PhoneNumberMaskingFilter,
    call_context,
    mask_phone_numbers,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("dialling +14155550123 now", "dialling +***0123 now"),
        ("callee (415) 555-0123 hung up", "callee ***0123 hung up"),
        ("UK +44 20 7946 0958.", "UK +***0958."),
        ("to=+33199001234&from=+12025550143", "to=+***1234&from=+***0143"),
    ],
)
def test_phone_numbers_keep_only_their_last_four_digits(text, masked):
    assert mask_phone_numbers(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "call 3f2a9c1e-1234-4567-89ab-426614174000 ended",  # a UUID
        "peer 192.168.100.200 connected",  # an IP address
        "took 12.5 ms, 200 OK, 2026-11-23",  # numbers, a date
    ],
)
def test_other_numbers_are_left_alone(text):
    assert mask_phone_numbers(text) == text


def test_the_configured_logging_masks_numbers_in_arguments_and_tracebacks():
    """Runs the project's own LOGGING config, with its handler writing to a buffer."""
    stream = io.StringIO()
    config = {**settings.LOGGING, "handlers": {k: {**v} for k, v in settings.LOGGING["handlers"].items()}}
    logging.config.dictConfig(config)
    handler = logging.getLogger().handlers[0]
    handler.setStream(stream)
    logger = logging.getLogger("callwright.test")
    try:
        raise ValueError("cannot dial +14155550123")
    except ValueError:
        logger.exception("placing call to %s failed", "+12025550143")
    output = stream.getvalue()
    assert "+***0143" in output
    assert "+***0123" in output
    assert "2025550143" not in output
    assert "4155550123" not in output


def test_every_configured_handler_masks_phone_numbers():
    for name, handler in settings.LOGGING["handlers"].items():
        assert "mask_phone_numbers" in handler.get("filters", []), name


# ---- JSON, the call id, Sentry -------------------------------------------------------------------------------


def configured_logging(log_format: str) -> io.StringIO:
    """The project's LOGGING with `log_format`, its console handler writing to a buffer."""
    stream = io.StringIO()
    handlers = {name: {**handler} for name, handler in settings.LOGGING["handlers"].items() if name == "console"}
    handlers["console"]["formatter"] = log_format
    logging.config.dictConfig(
        {**settings.LOGGING, "handlers": handlers, "root": {"level": "INFO", "handlers": ["console"]}}
    )
    logging.getLogger().handlers[0].setStream(stream)
    return stream


@pytest.fixture
def restore_logging():
    yield
    logging.config.dictConfig(settings.LOGGING)


def test_json_lines_carry_the_call_id_and_mask_numbers_everywhere(restore_logging):
    stream = configured_logging("json")
    logger = logging.getLogger("callwright.test")
    with call_context("3f2a9c1e-1234-4567-89ab-426614174000"):
        try:
            raise ValueError("cannot dial +14155550123")
        except ValueError:
            logger.exception("placing call to %s failed", "+12025550143", extra={"to": "+13125550199"})
    logger.info("a line about no call")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["call_id"] == "3f2a9c1e-1234-4567-89ab-426614174000"
    assert first["message"] == "placing call to +***0143 failed"
    assert first["level"] == "ERROR"
    assert first["to"] == "+***0199"
    assert "+***0123" in first["exc_info"]
    assert "4155550123" not in stream.getvalue()
    assert "call_id" not in second


def test_plain_lines_name_the_call_inside_a_call_context(restore_logging):
    stream = configured_logging("plain")
    with call_context("c0ffee00-0000-4000-8000-000000000001"):
        logging.getLogger("callwright.test").warning("media stream dropped")
    logging.getLogger("callwright.test").warning("unrelated")
    about_call, unrelated = stream.getvalue().splitlines()
    assert about_call.endswith("call=c0ffee00-0000-4000-8000-000000000001 media stream dropped")
    assert "call=" not in unrelated


@shared_task(name="monitoring.tests.call_id_seen")
def call_id_seen(call_id: str) -> str:
    return CALL_ID.get()


def test_a_task_about_a_call_logs_under_its_call_id():
    assert call_id_seen.apply(kwargs={"call_id": "by-keyword"}).get() == "by-keyword"
    assert call_id_seen.apply(args=("by-position",)).get() == "by-position"
    assert CALL_ID.get() == ""  # unbound once the task is done


def test_requests_and_streams_on_a_call_path_run_under_its_call_id():
    from config.asgi import CALL_PATH

    seen: list[str] = []

    async def app(scope, receive, send):
        seen.append(CALL_ID.get())

    middleware = CallContextMiddleware(app, path_pattern=CALL_PATH)
    call = "3f2a9c1e-1234-4567-89ab-426614174000"
    for path in (f"/twilio/status/{call}/", f"/ws/twilio/media/{call}/", "/admin/", "/twilio/status/not-a-uuid/"):
        kind = "websocket" if path.startswith("/ws/") else "http"
        asyncio.run(middleware({"type": kind, "path": path}, None, None))
    assert seen == [call, call, "", ""]


def test_with_sentry_dsn_set_settings_add_its_masking_handler_and_no_integration(tmp_path):
    """SENTRY_DSN set: settings add Sentry's logging handler (masking like the others) and no integration."""
    script = (
        "import os, django; django.setup(); from django.conf import settings; import sentry_sdk;"
        "print(settings.LOGGING['root']['handlers'], settings.LOGGING['handlers']['sentry']['filters'],"
        " sorted(sentry_sdk.get_client().integrations))"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "SENTRY_DSN": "http://k@127.0.0.1:9/1",
    }
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "['console', 'sentry'] ['mask_phone_numbers', 'call_id'] []"


def test_sentrys_logging_handler_sends_the_masked_line(restore_logging):
    events: list[dict] = []

    class Capture(Transport):
        def capture_envelope(self, envelope) -> None:
            events.extend(item.payload.json for item in envelope.items if item.payload.json)

    client = sentry_sdk.Client(dsn="http://k@127.0.0.1:9/1", default_integrations=False, transport=Capture)
    handler = EventHandler(level=logging.ERROR)
    handler.addFilter(PhoneNumberMaskingFilter())
    logger = logging.getLogger("callwright.sentry-test")
    logger.addHandler(handler)
    try:
        with sentry_sdk.new_scope() as scope:
            scope.set_client(client)
            logger.error("carrier refused %s", "+14155550123")
            client.flush()
    finally:
        logger.removeHandler(handler)
    assert [event["logentry"]["message"] for event in events] == ["carrier refused +***0123"]
