"""People to call, the lists they arrive in, who must never be called, and what they agreed to."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.fields.json import KeyTransform
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

# E.164: "+", a country code that does not start with 0, at most 15 digits in all. The database
# refuses anything else, whatever path the row came by; phonenumbers does the real parsing.
E164_REGEX = r"^\+[1-9][0-9]{6,14}$"


class ContactList(models.Model):
    name = models.CharField(_("name"), max_length=200, unique=True)
    description = models.TextField(_("description"), blank=True)
    default_region = models.CharField(
        _("default phone region"),
        max_length=2,
        blank=True,
        help_text=_(
            "ISO 3166-1 region (ES, MX, US…) for numbers imported into this list without a country code; "
            "empty: the deployment's DEFAULT_PHONE_REGION. An import may choose its own."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("contact list")
        verbose_name_plural = _("contact lists")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Contact(models.Model):
    first_name = models.CharField(max_length=150, blank=True, verbose_name=_("first name"))
    last_name = models.CharField(max_length=150, blank=True, verbose_name=_("last name"))
    # NULL only once the person's data has been erased (see `erased_at`); NULLs never collide on unique.
    # Unique by a constraint (Meta), not `unique=True`: see `contact_phone_unique`.
    phone = models.CharField(_("phone (E.164)"), max_length=16, null=True, blank=True)
    email = models.EmailField(blank=True, verbose_name=_("email"))
    country = models.CharField(
        max_length=2, blank=True, help_text=_("ISO 3166-1 alpha-2 region of the number."), verbose_name=_("country")
    )
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        help_text=_("IANA zone; inferred from the number when the import gives none."),
        verbose_name=_("time zone"),
    )
    time_zone_candidates = models.JSONField(
        default=list,
        blank=True,
        help_text=_("Every IANA zone the number may be in, when it spans several."),
        verbose_name=_("time zone candidates"),
    )
    time_zone_ambiguous = models.BooleanField(
        default=False,
        help_text=_("The number spans several zones and no zone was given: the dial gate uses the strictest."),
        verbose_name=_("time zone ambiguous"),
    )
    language = models.CharField(
        max_length=16, blank=True, help_text=_("BCP 47 tag, e.g. en-US."), verbose_name=_("language")
    )
    custom_fields = models.JSONField(
        default=dict,
        blank=True,
        help_text=_("Extra import columns; usable as {{variables}} in scripts."),
        verbose_name=_("custom fields"),
    )
    lists = models.ManyToManyField(ContactList, related_name="contacts", blank=True, verbose_name=_("lists"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))
    erased_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("When the person's data was erased on request; the row stays as a tombstone."),
        verbose_name=_("erased at"),
    )

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ["-created_at"]
        constraints = [
            # A live contact always has an E.164 number; only an erased one may have none. (The explicit
            # "is not null" matters: a CHECK whose condition is NULL passes.)
            models.CheckConstraint(
                condition=(Q(phone__isnull=False) & Q(phone__regex=E164_REGEX))
                | (Q(phone__isnull=True) & Q(erased_at__isnull=False)),
                name="contact_phone_is_e164",
            ),
            # One contact per number. A constraint rather than `unique=True`, which on PostgreSQL also
            # builds a second index on phone (varchar_pattern_ops, for LIKE 'prefix%' outside the C
            # locale) that nothing here queries — admin search is `icontains`, lookups are equality —
            # and that every insert would pay for, a large share of PostgreSQL's work in a big import.
            models.UniqueConstraint(fields=["phone"], name="contact_phone_unique"),
        ]
        indexes = [
            # The API's lookup by a CRM's own id (`external_id`, a custom field). Partial: only the contacts that
            # have one pay for it on insert (a plain import without the column pays nothing).
            models.Index(
                KeyTransform("external_id", "custom_fields"),
                name="contact_external_id",
                condition=Q(custom_fields__has_key="external_id"),
            ),
        ]

    def __str__(self) -> str:
        if self.erased_at:
            return _("Erased contact #%(id)s") % {"id": self.pk}
        return self.full_name or self.phone or _("Contact #%(id)s") % {"id": self.pk}

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class SuppressionQuerySet(models.QuerySet):
    def active(self) -> "SuppressionQuerySet":
        return self.filter(lifted_at__isnull=True)


class Suppression(models.Model):
    """A number that must not be called (do-not-call). Checked before every dial.

    Lifting a suppression never deletes it: the row keeps who lifted it, when and why, and a later
    suppression of the same number is a new row. At most one suppression per number is active.
    """

    class Source(models.TextChoices):
        IMPORT = "import", _("File import")
        ADMIN = "admin", _("Operator (admin)")
        OPT_OUT = "opt_out", _("In-call opt-out")
        API = "api", "API"
        ERASURE = "erasure", _("Data erased on request")

    phone = models.CharField(_("phone (E.164)"), max_length=16)
    reason = models.CharField(max_length=255, blank=True, verbose_name=_("reason"))
    source = models.CharField(max_length=16, choices=Source.choices, verbose_name=_("source"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(db_default=Now(), verbose_name=_("created at"))
    lifted_at = models.DateTimeField(
        null=True, blank=True, help_text=_("When the number may be called again."), verbose_name=_("lifted at")
    )
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("lifted by"),
    )
    lift_reason = models.CharField(max_length=255, blank=True, verbose_name=_("lift reason"))

    objects = SuppressionQuerySet.as_manager()

    class Meta:
        verbose_name = _("suppression")
        verbose_name_plural = _("suppressions")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(phone__regex=E164_REGEX), name="suppression_phone_is_e164"),
            models.CheckConstraint(
                condition=Q(source__in=["import", "admin", "opt_out", "api", "erasure"]),
                name="suppression_source_valid",
            ),
            models.UniqueConstraint(
                fields=["phone"], condition=Q(lifted_at__isnull=True), name="suppression_one_active_per_phone"
            ),
            models.CheckConstraint(
                condition=Q(lifted_at__isnull=True) | Q(lifted_at__gte=models.F("created_at")),
                name="suppression_lifted_after_created",
            ),
        ]
        indexes = [models.Index(fields=["phone"], name="suppression_phone")]

    def __str__(self) -> str:
        return self.phone

    @property
    def is_active(self) -> bool:
        return self.lifted_at is None


class ConsentPurpose(models.TextChoices):
    """What a call is for; the law asks for a different kind of consent for each."""

    INFORMATIONAL = "informational", _("Informational (reminders, confirmations, surveys)")
    TELEMARKETING = "telemarketing", _("Telemarketing (prior express written consent)")


class Consent(models.Model):
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="consents", verbose_name=_("contact"))
    purpose = models.CharField(max_length=32, choices=ConsentPurpose.choices, verbose_name=_("purpose"))
    source = models.CharField(
        max_length=200,
        help_text=_("Where the consent was captured (web form, call, paper…)."),
        verbose_name=_("source"),
    )
    evidence = models.TextField(
        blank=True, help_text=_("The wording agreed to, or a reference to it."), verbose_name=_("evidence")
    )
    given_at = models.DateTimeField(verbose_name=_("given at"))
    revoked_at = models.DateTimeField(null=True, blank=True, verbose_name=_("revoked at"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        ordering = ["-given_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True) | Q(revoked_at__gte=models.F("given_at")),
                name="consent_revoked_after_given",
            ),
            models.CheckConstraint(condition=Q(purpose__in=ConsentPurpose.values), name="consent_purpose_valid"),
            # The same consent event is recorded once, so re-importing a file adds nothing.
            models.UniqueConstraint(fields=["contact", "purpose", "given_at"], name="consent_once_per_event"),
        ]

    def __str__(self) -> str:
        state = _("revoked") if self.revoked_at else _("active")
        return f"{self.get_purpose_display()} ({state})"


class ContactImportJob(models.Model):
    """One confirmed file import, run by a Celery task; the admin polls its progress.

    The file stays in the default storage (MEDIA_ROOT) so that the worker process can read it, and
    is deleted when the job ends. Rows that were not imported are kept as `ContactImportIssue`s.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    file_name = models.CharField(
        max_length=255, help_text=_("Path of the uploaded file in the default storage."), verbose_name=_("file name")
    )
    original_name = models.CharField(max_length=255, verbose_name=_("original name"))
    file_format = models.CharField(
        max_length=8, choices=[("csv", "CSV"), ("xlsx", "Excel (XLSX)")], verbose_name=_("file format")
    )
    sheet = models.CharField(
        max_length=100, blank=True, help_text=_("XLSX sheet; empty: the first one."), verbose_name=_("sheet")
    )
    default_region = models.CharField(
        _("default phone region"),
        max_length=2,
        blank=True,
        help_text=_("For numbers without a country code; empty: the list's, else DEFAULT_PHONE_REGION."),
    )
    contact_list = models.ForeignKey(
        ContactList,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="import_jobs",
        verbose_name=_("contact list"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED, verbose_name=_("status"))
    total_rows = models.PositiveIntegerField(default=0, verbose_name=_("total rows"))
    processed_rows = models.PositiveIntegerField(default=0, verbose_name=_("processed rows"))
    created_count = models.PositiveIntegerField(_("created"), default=0)
    updated_count = models.PositiveIntegerField(_("updated"), default=0)
    unchanged_count = models.PositiveIntegerField(_("unchanged"), default=0)
    skipped_count = models.PositiveIntegerField(
        _("skipped"), default=0, help_text=_("Duplicates in the file, suppressed.")
    )
    rejected_count = models.PositiveIntegerField(_("rejected"), default=0, help_text=_("Rows that could not be read."))
    warnings = models.JSONField(default=list, blank=True, verbose_name=_("warnings"))
    error = models.TextField(
        blank=True, help_text=_("Why the whole file failed, when it did."), verbose_name=_("error")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    started_at = models.DateTimeField(null=True, blank=True, verbose_name=_("started at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))

    class Meta:
        verbose_name = _("contact import job")
        verbose_name_plural = _("contact import jobs")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "done", "failed"]), name="import_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["done", "failed"], finished_at__isnull=False)
                | (~Q(status__in=["done", "failed"]) & Q(finished_at__isnull=True)),
                name="import_finished_at_iff_ended",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.get_status_display()})"

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        return min(99, int(100 * self.processed_rows / self.total_rows)) if self.total_rows else 0


class ContactImportIssue(models.Model):
    """A row of an import that was skipped or rejected, or imported without a value of an ignored column,
    with the reason and the row as it was: the download of what was not imported."""

    class Outcome(models.TextChoices):
        DUPLICATE = "duplicate", _("Skipped: duplicate in the file")
        SUPPRESSED = "suppressed", _("Skipped: number is suppressed")
        REJECTED = "rejected", _("Rejected: invalid")
        # The row was imported, but a cell of a column the import ignores (a second phone column, …) was not.
        VALUE_IGNORED = "value_ignored", _("Imported without some of its values")

    job = models.ForeignKey(ContactImportJob, on_delete=models.CASCADE, related_name="issues", verbose_name=_("job"))
    row_number = models.PositiveIntegerField(
        help_text=_("Row in the file; the header is row 1."), verbose_name=_("row number")
    )
    outcome = models.CharField(max_length=16, choices=Outcome.choices, verbose_name=_("outcome"))
    reason = models.TextField(verbose_name=_("reason"))
    values = models.JSONField(
        default=list, help_text=_("The row's cells as they were in the file."), verbose_name=_("values")
    )

    class Meta:
        verbose_name = _("contact import issue")
        verbose_name_plural = _("contact import issues")
        ordering = ["job", "row_number"]
        constraints = [models.UniqueConstraint(fields=["job", "row_number"], name="import_issue_once_per_row")]

    def __str__(self) -> str:
        return _("row %(row)s: %(reason)s") % {"row": self.row_number, "reason": self.reason}


class OperatorAction(models.Model):
    """Audit log of what operators did to people's data: who, what, when, to whom. Append-only."""

    class Action(models.TextChoices):
        EXPORT_PERSONAL_DATA = "export_personal_data", _("Exported a person's data")
        ERASE = "erase", _("Erased a person's data")
        SUPPRESSION_ADD = "suppression_add", _("Suppressed a number")
        SUPPRESSION_LIFT = "suppression_lift", _("Lifted a suppression")
        IMPORT = "import", _("Imported contacts")
        # Live supervision: a supervisor steering a call or its campaign from the live pages.
        LIVE_WHISPER = "live_whisper", _("Whispered guidance to a live call's agent")
        LIVE_HANG_UP = "live_hang_up", _("Hung up a live call")
        LIVE_TRANSFER = "live_transfer", _("Transferred a live call to a person")
        LIVE_DO_NOT_CALL = "live_do_not_call", _("Marked a live call's number do-not-call")
        LIVE_TAKE_OVER = "live_take_over", _("Took over a live call from its agent")
        LIVE_HAND_BACK = "live_hand_back", _("Handed a live call back to its agent")
        CAMPAIGN_PAUSE = "campaign_pause", _("Paused a campaign")
        CAMPAIGN_RESUME = "campaign_resume", _("Resumed a campaign")
        RETENTION_PURGE = "retention_purge", _("Purged call data past its retention")

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("actor"),
    )
    action = models.CharField(max_length=32, choices=Action.choices, verbose_name=_("action"))
    target_type = models.CharField(max_length=64, verbose_name=_("target type"))
    target_id = models.CharField(max_length=64, verbose_name=_("target id"))
    target_repr = models.CharField(max_length=200, blank=True, verbose_name=_("target repr"))
    details = models.JSONField(default=dict, blank=True, verbose_name=_("details"))
    created_at = models.DateTimeField(db_default=Now(), db_index=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("operator action")
        verbose_name_plural = _("operator actions")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_action_display()}: {self.target_repr or self.target_id}"


class OperatorPreference(models.Model):
    """An operator's own settings in the admin: the language it is shown in (the language switch sets it)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="operator_preference", verbose_name=_("user")
    )
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES)

    class Meta:
        verbose_name = _("operator preference")
        verbose_name_plural = _("operator preferences")

    def __str__(self) -> str:
        return f"{self.user}: {self.language}"
