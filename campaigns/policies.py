"""Shapes and defaults of a campaign's JSON settings (days of week, retry policy), and their validation."""

from typing import Any

from django.core.exceptions import ValidationError

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
        raise ValidationError({"days_of_week": "Give at least one ISO weekday, e.g. [1, 2, 3, 4, 5]."})
    bad = [day for day in value if not isinstance(day, int) or isinstance(day, bool) or not 1 <= day <= 7]
    if bad:
        raise ValidationError({"days_of_week": f"Weekdays are 1 (Monday) to 7 (Sunday); got {bad}."})
    if len(set(value)) != len(value):
        raise ValidationError({"days_of_week": "A weekday appears twice."})


def validate_retry_policy(value: Any) -> None:
    if not isinstance(value, dict):
        raise ValidationError({"retry_policy": "Must be an object keyed by outcome."})
    unknown = sorted(set(value) - set(RETRY_OUTCOMES))
    if unknown:
        raise ValidationError({"retry_policy": f"Unknown outcomes {unknown}; allowed: {', '.join(RETRY_OUTCOMES)}."})
    for outcome, rule in value.items():
        if not isinstance(rule, dict) or set(rule) != {"delay_minutes", "max_attempts"}:
            raise ValidationError({"retry_policy": f"{outcome}: give exactly delay_minutes and max_attempts."})
        for key, number in rule.items():
            if not isinstance(number, int) or isinstance(number, bool) or number < 0:
                raise ValidationError({"retry_policy": f"{outcome}.{key} must be a whole number ≥ 0."})
