"""Shapes and defaults of a campaign's JSON settings (days of week, retry policy), and their validation."""

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

RETRY_OUTCOMES = ("busy", "no_answer", "failed", "voicemail")


def default_days_of_week() -> list[int]:
    return [1, 2, 3, 4, 5]


def default_retry_policy() -> dict[str, dict[str, int]]:
    return {
        "busy": {"delay_minutes": 30, "max_attempts": 3},
        "no_answer": {"delay_minutes": 120, "max_attempts": 3},
        "failed": {"delay_minutes": 60, "max_attempts": 2},
        "voicemail": {"delay_minutes": 24 * 60, "max_attempts": 2},
    }


def validate_days_of_week(value: Any) -> None:
    if not isinstance(value, list) or not value:
        raise ValidationError({"days_of_week": gettext("Give at least one ISO weekday, e.g. [1, 2, 3, 4, 5].")})
    bad = [day for day in value if not isinstance(day, int) or isinstance(day, bool) or not 1 <= day <= 7]
    if bad:
        raise ValidationError(
            {"days_of_week": gettext("Weekdays are 1 (Monday) to 7 (Sunday); got %(bad)s.") % {"bad": bad}}
        )
    if len(set(value)) != len(value):
        raise ValidationError({"days_of_week": gettext("A weekday appears twice.")})


def validate_retry_policy(value: Any) -> None:
    if not isinstance(value, dict):
        raise ValidationError({"retry_policy": gettext("Must be an object keyed by outcome.")})
    unknown = sorted(set(value) - set(RETRY_OUTCOMES))
    if unknown:
        raise ValidationError(
            {
                "retry_policy": gettext("Unknown outcomes %(unknown)s; allowed: %(allowed)s.")
                % {"unknown": unknown, "allowed": ", ".join(RETRY_OUTCOMES)}
            }
        )
    for outcome, rule in value.items():
        if not isinstance(rule, dict) or set(rule) != {"delay_minutes", "max_attempts"}:
            raise ValidationError(
                {
                    "retry_policy": gettext("%(outcome)s: give exactly delay_minutes and max_attempts.")
                    % {"outcome": outcome}
                }
            )
        for key, number in rule.items():
            if not isinstance(number, int) or isinstance(number, bool) or number < 0:
                raise ValidationError(
                    {
                        "retry_policy": gettext("%(outcome)s.%(key)s must be a whole number ≥ 0.")
                        % {"outcome": outcome, "key": key}
                    }
                )


# What a disposition leads to, after the call's analysis (campaigns/dispositions.py carries it out).
NEXT_STEPS = {
    "none": _("nothing more: the call's own result settles the target"),
    "close": _("close the target as done"),
    "callback": _("call back at the time the callee asked, moved inside the calling window"),
    "wrong_number": _("close the target: the number is not the contact's"),
    "do_not_call": _("add the number to do-not-call and close the target as suppressed"),
}
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def default_dispositions() -> list[dict[str, str]]:
    return [
        {"code": "reached", "label": "Reached, no decision", "next_step": "none"},
        {"code": "agreed", "label": "Agreed (goal met)", "next_step": "close"},
        {"code": "not_interested", "label": "Not interested", "next_step": "close"},
        {"code": "callback_requested", "label": "Callback requested", "next_step": "callback"},
        {"code": "wrong_number", "label": "Wrong number", "next_step": "wrong_number"},
        {"code": "do_not_call", "label": "Asked not to be called again", "next_step": "do_not_call"},
        {"code": "voicemail", "label": "Voicemail or no conversation", "next_step": "none"},
    ]


def validate_dispositions(value: Any) -> None:
    """A list of {code, label, next_step[, description]}: codes lower_snake_case and unique."""
    example = '[{"code": "callback_requested", "label": "Callback requested", "next_step": "callback"}]'
    if not isinstance(value, list) or not value:
        raise ValidationError(
            {"dispositions": gettext("Give at least one disposition, e.g. %(example)s.") % {"example": example}}
        )
    seen: set[str] = set()
    for number, item in enumerate(value, start=1):
        if not isinstance(item, dict) or not {"code", "label", "next_step"} <= set(item):
            raise ValidationError(
                {
                    "dispositions": gettext("Disposition %(number)s: give code, label and next_step, e.g. %(example)s.")
                    % {"number": number, "example": example}
                }
            )
        extra = sorted(set(item) - {"code", "label", "next_step", "description"})
        if extra:
            raise ValidationError(
                {
                    "dispositions": gettext("Disposition %(number)s: unknown keys %(extra)s.")
                    % {"number": number, "extra": extra}
                }
            )
        code = item["code"]
        if not isinstance(code, str) or not _CODE.match(code):
            raise ValidationError(
                {
                    "dispositions": gettext(
                        "Disposition %(number)s: code %(code)r must be lower_snake_case (a–z, 0–9, _)."
                    )
                    % {"number": number, "code": code}
                }
            )
        if code in seen:
            raise ValidationError(
                {"dispositions": gettext("Disposition code %(code)r appears twice.") % {"code": code}}
            )
        seen.add(code)
        if item["next_step"] not in NEXT_STEPS:
            steps = "; ".join(f"{name} ({meaning})" for name, meaning in NEXT_STEPS.items())
            raise ValidationError(
                {
                    "dispositions": gettext("Disposition %(code)r: next_step %(step)r is not one of: %(steps)s.")
                    % {"code": code, "step": item["next_step"], "steps": steps}
                }
            )
        if not isinstance(item["label"], str) or not item["label"].strip():
            raise ValidationError(
                {"dispositions": gettext("Disposition %(code)r: give a label in words.") % {"code": code}}
            )
