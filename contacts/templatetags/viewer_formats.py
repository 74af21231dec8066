"""Values as the operator reads them, in the active language: phone numbers and instants to the second.

`{% load viewer_formats %}`, then `{{ contact.phone|phone_for_viewer }}` (national format for the operator's
region, international otherwise; masked numbers unchanged) and `{{ when|instant }}` (the language's short
date, then the time to the second and the zone: "11/23/2026 10:00:00 EST", "23/11/2026 10:00:00 EST").
"""

import datetime

from django import template
from django.utils.formats import date_format

from contacts import phone_numbers

register = template.Library()


@register.filter
def phone_for_viewer(number: str | None) -> str:
    return phone_numbers.phone_for_viewer(number)


@register.filter(expects_localtime=True)
def instant(value: datetime.datetime | None, precision: str = "seconds") -> str:
    """`value` in the current time zone as the operator's language writes a date, with the time (`"minutes"`:
    without seconds) and the zone; "" for None."""
    if value is None:
        return ""
    time = "H:i T" if precision == "minutes" else "H:i:s T"
    return f"{date_format(value, 'SHORT_DATE_FORMAT')} {date_format(value, time)}"
