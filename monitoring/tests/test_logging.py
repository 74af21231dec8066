import io
import logging
import logging.config

import pytest
from django.conf import settings

from monitoring.logging import mask_phone_numbers


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
