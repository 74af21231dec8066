"""Admin forms that take phone numbers as people write them and store E.164."""

from django import forms
from django.core.exceptions import ValidationError

from contacts.models import Contact, Suppression
from contacts.phone_numbers import InvalidPhoneNumber, ParsedPhoneNumber, parse_phone_number
from contacts.services import location_fields


def clean_phone_field(value: str) -> ParsedPhoneNumber:
    try:
        return parse_phone_number(value)
    except InvalidPhoneNumber as error:
        raise ValidationError(str(error)) from error


def phone_input_field() -> forms.CharField:
    # Wider than the stored E.164 (16 chars): people type spaces, dashes and extensions.
    return forms.CharField(
        max_length=64,
        help_text="Any format; stored as E.164 (+14155550123). National numbers use DEFAULT_PHONE_REGION.",
    )


class ContactAdminForm(forms.ModelForm):
    phone = phone_input_field()

    class Meta:
        model = Contact
        fields = "__all__"  # noqa: DJ007 - the admin's fieldsets choose what is shown

    def clean_phone(self) -> str:
        self.parsed_phone = clean_phone_field(self.cleaned_data["phone"])
        return self.parsed_phone.e164

    def clean(self) -> dict:
        cleaned = super().clean()
        parsed = getattr(self, "parsed_phone", None)
        if parsed is not None:
            # Infer what the number tells, but never overwrite what the operator typed.
            cleaned.update(
                location_fields(parsed, country=cleaned.get("country", ""), time_zone=cleaned.get("time_zone", ""))
            )
        return cleaned


class SuppressionAdminForm(forms.ModelForm):
    phone = phone_input_field()

    class Meta:
        model = Suppression
        fields = ("phone", "reason", "source")

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["source"].initial = Suppression.Source.ADMIN

    def clean_phone(self) -> str:
        return clean_phone_field(self.cleaned_data["phone"]).e164
