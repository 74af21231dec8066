"""The admin's agent and campaign forms: every rule said in words, on the field it is about.

The database constraints stay the last word (campaigns/models.py maps each one to its field); these
forms add what a constraint cannot know — the time now, how people write phone numbers, what a JSON
Schema is, which `{{variables}}` exist — and normalise what they can (numbers to E.164).
"""

import datetime
import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from campaigns.models import EARLIEST_CALL_TIME, LATEST_CALL_TIME, Agent, Campaign
from campaigns.policies import default_days_of_week, default_dispositions
from campaigns.scripts import (
    DISCLOSURE_RULE,
    discloses_automation,
    known_variable_names,
    unknown_variables,
    unknown_variables_message,
)
from contacts.forms import clean_phone_field
from voice.phrases import PHRASE_KEYS

WEEKDAYS = [(1, _("Mon")), (2, _("Tue")), (3, _("Wed")), (4, _("Thu")), (5, _("Fri")), (6, _("Sat")), (7, _("Sun"))]
# The database's own integer bounds are validators too; they are no rule worth showing.
DATABASE_INTEGER_LIMIT = 2**31 - 1
SCRIPT_FIELDS = ("system_prompt", "first_message", "voicemail_message")


def phone_number_field(model_field: str, help_text: str) -> forms.CharField:
    """A number as people write it ("(415) 555-0123"), stored as E.164; wider than the stored 16 chars."""
    return forms.CharField(label=model_field, max_length=64, required=False, help_text=help_text)


def clean_optional_phone(value: str) -> str:
    """E.164 for a number in any format, "" for nothing; the reason in words when it is no number."""
    if not value.strip():
        return ""
    try:
        return clean_phone_field(value).e164
    except ValidationError as error:
        raise ValidationError(
            _("%(problem)s Write it as E.164, e.g. +14155550123.") % {"problem": error.messages[0]}
        ) from error


class RangeInputsMixin:
    """Number inputs carry the model's ranges as `min`/`max`, so the browser's own hint agrees with the rule
    (a PositiveIntegerField alone would say "≥ 0" where the rule is "at least 1")."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if not isinstance(field.widget, forms.NumberInput):
                continue
            for validator in self._meta.model._meta.get_field(name).validators:
                if isinstance(validator, MinValueValidator):
                    field.widget.attrs["min"] = validator.limit_value
                elif isinstance(validator, MaxValueValidator) and validator.limit_value < DATABASE_INTEGER_LIMIT:
                    field.widget.attrs["max"] = validator.limit_value


class AgentAdminForm(RangeInputsMixin, forms.ModelForm):
    transfer_number = phone_number_field(_("transfer number"), Agent._meta.get_field("transfer_number").help_text)

    class Meta:
        model = Agent
        fields = "__all__"  # noqa: DJ007 - the admin's fieldsets choose what is shown

    def clean_transfer_number(self) -> str:
        return clean_optional_phone(self.cleaned_data["transfer_number"])

    def clean_first_message(self) -> str:
        message = self.cleaned_data["first_message"]
        if not discloses_automation(message):
            raise ValidationError(DISCLOSURE_RULE, code="no_disclosure")
        return message

    def clean_language(self) -> str:
        tag = self.cleaned_data["language"].strip().replace("_", "-")
        if not re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*", tag):
            raise ValidationError(
                _("A language tag such as en-US, es-ES or es-MX (language, then region)."), code="invalid_language"
            )
        return tag

    def clean_phrases(self) -> Any:
        phrases = self.cleaned_data["phrases"]
        if phrases in (None, ""):
            return {}
        if not isinstance(phrases, dict) or not all(isinstance(text, str) for text in phrases.values()):
            raise ValidationError(
                _('The phrases are a JSON object of texts by key, e.g. {"hold": "Un momento, por favor."}.'),
                code="invalid_phrases",
            )
        unknown = sorted(set(phrases) - set(PHRASE_KEYS))
        if unknown:
            raise ValidationError(
                _("Unknown phrase keys %(unknown)s; the keys are: %(keys)s.")
                % {"unknown": ", ".join(unknown), "keys": ", ".join(PHRASE_KEYS)},
                code="invalid_phrases",
            )
        return {key: text.strip() for key, text in phrases.items() if text.strip()}

    def clean_outcome_schema(self) -> Any:
        schema = self.cleaned_data["outcome_schema"]
        if schema in (None, ""):
            return {}
        if not isinstance(schema, dict):
            raise ValidationError(
                _(
                    "The outcome schema is a JSON object, e.g. "
                    '{"type": "object", "properties": {"paid": {"type": "boolean"}}}; {} extracts nothing.'
                ),
                code="invalid_schema",
            )
        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as error:
            where = error.json_path.removeprefix("$").lstrip(".") or _("the top level")
            raise ValidationError(
                _("Not a valid JSON Schema (draft 2020-12): at %(where)s, %(problem)s.")
                % {"where": where, "problem": error.message},
                code="invalid_schema",
            ) from error
        return schema

    def clean(self) -> dict:
        cleaned = super().clean()
        texts = {name: cleaned[name] for name in SCRIPT_FIELDS if cleaned.get(name)}
        if texts:
            known = known_variable_names()
            for name, text in texts.items():
                unknown = unknown_variables(text, known)
                if unknown:
                    self.add_error(name, ValidationError(unknown_variables_message(unknown, known), code="unknown"))
        if cleaned.get("can_transfer") and "transfer_number" in cleaned and not cleaned["transfer_number"]:
            self.add_error(
                "transfer_number",
                ValidationError(
                    _("To transfer, give the human's number (e.g. +14155550123), or untick “transfer to a human”."),
                    code="required",
                ),
            )
        return cleaned


class CampaignAdminForm(RangeInputsMixin, forms.ModelForm):
    caller_id = phone_number_field(_("caller ID"), Campaign._meta.get_field("caller_id").help_text)
    days_of_week = forms.TypedMultipleChoiceField(
        choices=WEEKDAYS,
        coerce=int,
        initial=default_days_of_week,
        widget=forms.CheckboxSelectMultiple,
        label=_("Days of week"),
        help_text=_("Callee-local weekdays; Monday to Friday unless you choose."),
        error_messages={"required": _("Tick at least one weekday.")},
    )

    class Meta:
        model = Campaign
        fields = "__all__"  # noqa: DJ007 - the admin's fieldsets choose what is shown

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "calls_per_second" in self.fields:  # "more than 0" at the field's 0.01 step
            self.fields["calls_per_second"].widget.attrs["min"] = "0.01"

    def clean_caller_id(self) -> str:
        return clean_optional_phone(self.cleaned_data["caller_id"])

    def clean_dispositions(self) -> Any:
        """Empty: the default list (reached, agreed, not interested, callback, wrong number, do not call…)."""
        return self.cleaned_data.get("dispositions") or default_dispositions()

    def clean_ends_at(self) -> datetime.datetime | None:
        ends_at = self.cleaned_data["ends_at"]
        # A campaign that already ended may be saved again unchanged; a new or moved end must lie ahead.
        if ends_at and ("ends_at" in self.changed_data or self.instance.pk is None) and ends_at <= timezone.now():
            local = timezone.localtime(ends_at)
            shown = f"{date_format(local, 'SHORT_DATE_FORMAT')} {local:%H:%M}"
            raise ValidationError(
                _("The end (%(shown)s) is in the past: choose a later time, or leave it empty to run until done.")
                % {"shown": shown},
                code="in_the_past",
            )
        return ends_at

    def clean(self) -> dict:
        cleaned = super().clean()
        start, end = cleaned.get("window_start"), cleaned.get("window_end")
        earliest, latest = f"{EARLIEST_CALL_TIME:%H:%M}", f"{LATEST_CALL_TIME:%H:%M}"
        if start and start < EARLIEST_CALL_TIME:
            self.add_error(
                "window_start",
                ValidationError(
                    _(
                        "Calls may start at %(earliest)s callee-local time at the earliest "
                        "(allowed: %(earliest)s–%(latest)s)."
                    )
                    % {"earliest": earliest, "latest": latest},
                    code="too_early",
                ),
            )
        if end and end > LATEST_CALL_TIME:
            self.add_error(
                "window_end",
                ValidationError(
                    _("Calls may end at %(latest)s callee-local time at the latest (allowed: %(earliest)s–%(latest)s).")
                    % {"earliest": earliest, "latest": latest},
                    code="too_late",
                ),
            )
        elif start and end and start >= end and start >= EARLIEST_CALL_TIME:
            self.add_error(
                "window_end",
                ValidationError(
                    _("The window must end after it starts (%(start)s).") % {"start": f"{start:%H:%M}"},
                    code="ends_before_start",
                ),
            )
        return cleaned
