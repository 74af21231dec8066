"""People to call, the lists they arrive in, who must never be called, and what they agreed to."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now

# E.164: "+", a country code that does not start with 0, at most 15 digits in all. The database
# refuses anything else, whatever path the row came by; phonenumbers does the real parsing.
E164_REGEX = r"^\+[1-9][0-9]{6,14}$"


class ContactList(models.Model):
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    phone = models.CharField("phone (E.164)", max_length=16, unique=True)
    email = models.EmailField(blank=True)
    country = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2 region of the number.")
    time_zone = models.CharField(
        max_length=64, blank=True, help_text="IANA zone; inferred from the number when the import gives none."
    )
    time_zone_candidates = models.JSONField(
        default=list, blank=True, help_text="Every IANA zone the number may be in, when it spans several."
    )
    time_zone_ambiguous = models.BooleanField(
        default=False,
        help_text="The number spans several zones and no zone was given: the dial gate uses the strictest.",
    )
    language = models.CharField(max_length=16, blank=True, help_text="BCP 47 tag, e.g. en-US.")
    custom_fields = models.JSONField(
        default=dict, blank=True, help_text="Extra import columns; usable as {{variables}} in scripts."
    )
    lists = models.ManyToManyField(ContactList, related_name="contacts", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(phone__regex=E164_REGEX), name="contact_phone_is_e164"),
        ]

    def __str__(self) -> str:
        return self.full_name or self.phone

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class Suppression(models.Model):
    """A number that must not be called (do-not-call). Checked before every dial."""

    class Source(models.TextChoices):
        IMPORT = "import", "File import"
        ADMIN = "admin", "Operator (admin)"
        OPT_OUT = "opt_out", "In-call opt-out"
        API = "api", "API"

    phone = models.CharField("phone (E.164)", max_length=16, unique=True)
    reason = models.CharField(max_length=255, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(phone__regex=E164_REGEX), name="suppression_phone_is_e164"),
            models.CheckConstraint(
                condition=Q(source__in=["import", "admin", "opt_out", "api"]), name="suppression_source_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.phone


class ConsentPurpose(models.TextChoices):
    """What a call is for; the law asks for a different kind of consent for each."""

    INFORMATIONAL = "informational", "Informational (reminders, confirmations, surveys)"
    TELEMARKETING = "telemarketing", "Telemarketing (prior express written consent)"


class Consent(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="consents")
    purpose = models.CharField(max_length=32, choices=ConsentPurpose.choices)
    source = models.CharField(max_length=200, help_text="Where the consent was captured (web form, call, paper…).")
    evidence = models.TextField(blank=True, help_text="The wording agreed to, or a reference to it.")
    given_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-given_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True) | Q(revoked_at__gte=models.F("given_at")),
                name="consent_revoked_after_given",
            ),
            models.CheckConstraint(condition=Q(purpose__in=ConsentPurpose.values), name="consent_purpose_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} ({'revoked' if self.revoked_at else 'active'})"
