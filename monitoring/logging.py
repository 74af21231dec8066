"""Logging filter that masks phone numbers, so logs never carry a whole number.

Each run of 7–15 digits that reads as a phone number (optionally with +, spaces, dashes and
parentheses) keeps only its last four digits: `+14155550123` → `+***0123`. The filter renders the
message (and any traceback) itself, so numbers passed as `%s` arguments are masked too.
"""

import logging
import re

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
