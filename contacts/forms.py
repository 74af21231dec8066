"""Admin forms that take phone numbers as people write them and store E.164, and the import forms."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from import_export.forms import ConfirmImportForm, ImportForm

from contacts.importing.files import ImportFileError, check_file_size
from contacts.models import Contact, ContactList, Suppression
from contacts.phone_numbers import (
    InvalidPhoneNumber,
    ParsedPhoneNumber,
    parse_contact_phone_number,
    parse_phone_number,
    region_choices,
)
from contacts.services import location_fields


def clean_phone_field(value: str, *, contact: bool = False) -> ParsedPhoneNumber:
    """The number typed, parsed; a ValidationError in words if it cannot be dialled, or (`contact`) if it is
    of a type contacts may not have (premium-rate, shared-cost: settings.CONTACT_REFUSED_NUMBER_TYPES)."""
    try:
        return (parse_contact_phone_number if contact else parse_phone_number)(value)
    except InvalidPhoneNumber as error:
        raise ValidationError(str(error)) from error


def phone_input_field() -> forms.CharField:
    # Wider than the stored E.164 (16 chars): people type spaces, dashes and extensions.
    return forms.CharField(
        label=_("phone"),
        max_length=64,
        help_text=_("Any format; stored as E.164 (+14155550123). National numbers use DEFAULT_PHONE_REGION."),
    )


class ContactAdminForm(forms.ModelForm):
    phone = phone_input_field()

    class Meta:
        model = Contact
        fields = "__all__"  # noqa: DJ007 - the admin's fieldsets choose what is shown

    def clean_phone(self) -> str:
        self.parsed_phone = clean_phone_field(self.cleaned_data["phone"], contact=True)
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


class SuppressionChangeForm(forms.ModelForm):
    """A suppression's number and source never change; only its reason can be corrected."""

    class Meta:
        model = Suppression
        fields = ("reason",)


def clean_upload_size(upload: object) -> object:
    try:
        check_file_size(upload.size)
    except ImportFileError as error:
        raise ValidationError(str(error)) from error
    return upload


class ContactImportForm(ImportForm):
    """django-import-export's upload form, plus the list to import into and the sheet of a workbook."""

    contact_list = forms.ModelChoiceField(
        label=_("Contact list"),
        queryset=ContactList.objects.all(),
        required=False,
        help_text=_("Every imported contact is added to this list (a 'lists' column can name more)."),
    )
    sheet = forms.CharField(
        label=_("Sheet"),
        max_length=100,
        required=False,
        help_text=_("Excel only: the sheet to import; empty for the first one."),
    )
    region = forms.TypedChoiceField(
        label=_("Default phone region"),
        choices=[("", _("The list's, else the deployment's"))],
        required=False,
        help_text=_("For numbers written without a country code (e.g. ES for 612 345 678)."),
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["region"].choices = [*self.fields["region"].choices[:1], *region_choices()]

    def clean_import_file(self) -> object:
        return clean_upload_size(self.cleaned_data["import_file"])


class ContactConfirmImportForm(ConfirmImportForm):
    contact_list = forms.ModelChoiceField(
        queryset=ContactList.objects.all(), required=False, widget=forms.HiddenInput()
    )
    sheet = forms.CharField(max_length=100, required=False, widget=forms.HiddenInput())
    region = forms.CharField(max_length=2, required=False, widget=forms.HiddenInput())


class SuppressionImportForm(forms.Form):
    import_file = forms.FileField(label=_("File (CSV or XLSX)"), help_text=_("One number a row, in a 'phone' column."))
    reason = forms.CharField(
        label=_("reason"), max_length=255, help_text=_("Kept with every number, e.g. 'national DNC list 2026-11'.")
    )

    def clean_import_file(self) -> object:
        upload = clean_upload_size(self.cleaned_data["import_file"])
        if not upload.name.lower().endswith((".csv", ".txt", ".tsv", ".xlsx")):
            raise ValidationError("Choose a .csv or .xlsx file.")
        return upload


class EraseConfirmForm(forms.Form):
    confirm = forms.BooleanField(
        required=True, label=_("I understand: names, email, custom fields, transcripts and recordings are erased.")
    )


class ContactListAdminForm(forms.ModelForm):
    default_region = forms.TypedChoiceField(
        label=_("Default phone region"),
        choices=[("", _("The deployment's (DEFAULT_PHONE_REGION)"))],
        required=False,
        help_text=ContactList._meta.get_field("default_region").help_text,
    )

    class Meta:
        model = ContactList
        fields = ("name", "description", "default_region")

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["default_region"].choices = [*self.fields["default_region"].choices[:1], *region_choices()]
