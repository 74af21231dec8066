"""The operator's contacts pages: import/export, do-not-call, consent, privacy actions and the audit log."""

import contextvars
import csv
import json
import re
import uuid
from collections.abc import Callable

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.safestring import mark_safe
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST
from guardian.admin import ReinforcedGuardedModelAdminMixin
from import_export.admin import ExportMixin, ImportExportMixin
from import_export.forms import ExportForm
from import_export.tmp_storages import MediaStorage

from contacts.forms import (
    ContactAdminForm,
    ContactConfirmImportForm,
    ContactImportForm,
    ContactListAdminForm,
    EraseConfirmForm,
    SuppressionAdminForm,
    SuppressionChangeForm,
    SuppressionImportForm,
)
from contacts.importing.files import ImportFileError
from contacts.importing.jobs import contact_import_job_create
from contacts.importing.uploads import upload_max_age, upload_path
from contacts.models import (
    Consent,
    Contact,
    ContactImportJob,
    ContactList,
    OperatorAction,
    Suppression,
)
from contacts.phone_numbers import phone_for_viewer
from contacts.resources import (
    CHOSEN_SHEET,
    ContactCSV,
    ContactListResource,
    ContactResource,
    ContactXLSX,
    SuppressionResource,
)
from contacts.selectors import import_job_progress
from contacts.services import (
    contact_data_export,
    contact_erase,
    suppression_add,
    suppression_import,
    suppression_remove,
)
from contacts.spreadsheets import SafeCSV, SafeXLSX, neutralise_formula

# The uploads stored while the admin handles one import request (write_to_tmp_storage appends each).
STORED_UPLOADS: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("stored_uploads", default=None)


class ReadOnlyAdminMixin:
    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class SafeExportMixin(ExportMixin):
    """Exports as CSV or XLSX with formulas neutralised, for staff who may view the model."""

    export_formats = [SafeCSV, SafeXLSX]
    export_form_class = ExportForm

    def has_export_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)


@admin.register(ContactList)
class ContactListAdmin(ReinforcedGuardedModelAdminMixin, SafeExportMixin, admin.ModelAdmin):
    """Contact lists; *Object permissions* (django-guardian, for administrators) grants one list — and its
    contacts, their consents and its imports on the API — to a user, an integration token's user or a group."""

    form = ContactListAdminForm
    change_form_template = None  # ours (admin/contacts/contactlist/), which links the grants page only for those
    resource_classes = [ContactListResource]
    list_display = ("name", "contact_count", "default_region", "created_at")
    search_fields = ("name", "description")
    date_hierarchy = "created_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(contact_count=Count("contacts"))

    @admin.display(description=_("contacts"), ordering="contact_count")
    def contact_count(self, contact_list: ContactList) -> int:
        return contact_list.contact_count


# Actions that apps above contacts offer on the contact list (calls' "Place a test call"). contacts cannot
# import them, so they register here (from their own admin module) and ContactAdmin reads the list.
_contact_actions: list[Callable[..., object]] = []


def register_contact_action(action: Callable[..., object]) -> None:
    """Offer `action` (an admin action function) on the contacts list page, after contacts' own actions."""
    if action not in _contact_actions:
        _contact_actions.append(action)


# Sections of a contact's page that apps above contacts fill (calls: the person's calls; campaigns: their
# places in campaigns). Each renders its own HTML for (request, contact): contacts cannot read those tables.
ContactHistorySection = Callable[[HttpRequest, Contact], str]
_contact_history: list[ContactHistorySection] = []


def register_contact_history(section: ContactHistorySection) -> None:
    """Show `section(request, contact)` (safe HTML) under "History across campaigns" on each contact's page."""
    if section not in _contact_history:
        _contact_history.append(section)


@admin.display(description=_("phone"), ordering="phone")
def phone_shown(obj: Contact | Suppression) -> str:
    """A list's phone column as the operator reads numbers (`contacts.phone_numbers.phone_for_viewer`)."""
    return phone_for_viewer(obj.phone) or "–"


class ConsentInline(admin.TabularInline):
    model = Consent
    extra = 0
    fields = ("purpose", "source", "evidence", "given_at", "revoked_at")


@admin.register(Contact)
class ContactAdmin(ImportExportMixin, admin.ModelAdmin):
    form = ContactAdminForm
    list_display = ("__str__", phone_shown, "country", "time_zone", "time_zone_ambiguous", "language", "created_at")
    list_filter = ("time_zone_ambiguous", "country", "language", "lists", ("erased_at", admin.EmptyFieldListFilter))
    search_fields = ("phone", "first_name", "last_name", "email")
    date_hierarchy = "created_at"
    autocomplete_fields = ("lists",)
    inlines = (ConsentInline,)
    readonly_fields = ("created_at", "updated_at", "erased_at")
    change_form_template = "admin/contacts/contact/change_form.html"
    fieldsets = (
        (None, {"fields": ("first_name", "last_name", "phone", "email", "language", "lists")}),
        (_("Where the callee is"), {"fields": ("country", "time_zone", "time_zone_candidates", "time_zone_ambiguous")}),
        (_("Script variables"), {"fields": ("custom_fields",)}),
        (_("History"), {"fields": ("created_at", "updated_at", "erased_at")}),
    )
    own_actions = ("export_personal_data", "erase_personal_data")

    @property
    def actions(self) -> tuple[object, ...]:  # type: ignore[override]
        return (*self.own_actions, *_contact_actions)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        contact = self.get_object(request, object_id)
        if contact is not None:
            history = [section(request, contact) for section in _contact_history]
            extra_context = {**(extra_context or {}), "history_sections": [mark_safe(html) for html in history if html]}  # noqa: S308
        return super().change_view(request, object_id, form_url, extra_context)

    def has_change_permission(self, request: HttpRequest, obj: Contact | None = None) -> bool:
        # An erased contact is a tombstone: nothing about the person may be written back into it.
        return super().has_change_permission(request, obj) and not (obj is not None and obj.erased_at)

    # ---- import: django-import-export's upload → preview → confirm, then a background job -----

    resource_classes = [ContactResource]
    import_formats = [ContactCSV, ContactXLSX]
    export_formats = [SafeCSV, SafeXLSX]
    import_form_class = ContactImportForm
    confirm_form_class = ContactConfirmImportForm
    export_form_class = ExportForm
    # The worker process reads the file after the preview: it must live in MEDIA_ROOT, not /tmp.
    tmp_storage_class = MediaStorage
    import_template_name = "admin/contacts/contact/import.html"

    def has_import_permission(self, request: HttpRequest) -> bool:
        return self.has_add_permission(request) and self.has_change_permission(request)

    def has_export_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def import_action(self, request: HttpRequest, **kwargs: object) -> HttpResponse:
        """The upload and its preview. An upload the preview refuses (no phone column, unreadable, too big)
        cannot be confirmed: its file is deleted before the page is shown. A preview never confirmed is
        left to the sweep (`contacts.importing.uploads.abandoned_uploads_delete`)."""
        token = CHOSEN_SHEET.set(request.POST.get("sheet", "").strip())
        stored: list[str] = []
        stored_token = STORED_UPLOADS.set(stored)
        refused = True
        try:
            response = super().import_action(request, **kwargs)
            refused = "confirm_form" not in (getattr(response, "context_data", None) or {})
            return response
        finally:
            CHOSEN_SHEET.reset(token)
            STORED_UPLOADS.reset(stored_token)
            if refused:
                for stored_path in stored:
                    default_storage.delete(stored_path)

    def write_to_tmp_storage(self, import_file: object, input_format: object) -> MediaStorage:
        # Streams the upload to storage; the stock method concatenates it in memory first.
        storage = MediaStorage(name=uuid.uuid4().hex, read_mode="rb")
        saved = default_storage.save(storage.get_full_path(), import_file)
        if (stored := STORED_UPLOADS.get()) is not None:
            stored.append(saved)
        return storage

    def add_data_read_fail_error_to_form(self, form: ContactImportForm, e: Exception) -> None:
        if isinstance(e, ImportFileError):
            form.add_error("import_file", str(e))
        else:
            super().add_data_read_fail_error_to_form(form, e)

    def get_import_resource_kwargs(self, request: HttpRequest, **kwargs: object) -> dict:
        form = kwargs.get("form")
        cleaned = getattr(form, "cleaned_data", None) or {}
        return {"contact_list": cleaned.get("contact_list"), "region": cleaned.get("region") or ""}

    def get_confirm_form_initial(self, request: HttpRequest, import_form: ContactImportForm) -> dict:
        initial = super().get_confirm_form_initial(request, import_form)
        if import_form is None:
            return initial
        contact_list = import_form.cleaned_data.get("contact_list")
        initial.update(
            contact_list=contact_list.pk if contact_list else None,
            sheet=CHOSEN_SHEET.get(),
            region=import_form.cleaned_data.get("region") or "",
        )
        return initial

    @method_decorator(require_POST)
    def process_import(self, request: HttpRequest, **kwargs: object) -> HttpResponse:
        """The operator confirmed the preview: queue the import job and show its progress."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        form = self.create_confirm_form(request)
        if not form.is_valid():
            return super().process_import(request, **kwargs)
        input_format = self.get_import_formats()[int(form.cleaned_data["format"])]
        file_name = upload_path(form.cleaned_data["import_file_name"])
        if not default_storage.exists(file_name):
            minutes = int(upload_max_age().total_seconds() // 60)
            self.message_user(
                request,
                gettext(
                    "The file %(name)s is no longer here: an upload not confirmed within %(minutes)s minutes is "
                    "deleted. Nothing was imported; upload it again."
                )
                % {"name": form.cleaned_data["original_file_name"], "minutes": minutes},
                messages.ERROR,
            )
            return redirect("admin:contacts_contact_import")
        job = contact_import_job_create(
            file_name=file_name,
            original_name=form.cleaned_data["original_file_name"],
            file_format=input_format.file_format,
            sheet=form.cleaned_data["sheet"],
            contact_list=form.cleaned_data["contact_list"],
            default_region=form.cleaned_data["region"],
            created_by=request.user,
        )
        return redirect("admin:contacts_contactimportjob_change", job.pk)

    # ---- privacy actions ---------------------------------------------------------------------

    @admin.action(description=_("Export all data of the selected people (JSON)"), permissions=["view"])
    def export_personal_data(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
        people = [contact_data_export(contact=contact, actor=request.user) for contact in queryset]
        response = HttpResponse(
            json.dumps({"exported_at": timezone.now().isoformat(), "people": people}, indent=2),
            content_type="application/json",
        )
        response["Content-Disposition"] = f'attachment; filename="personal-data-{timezone.now():%Y%m%d-%H%M%S}.json"'
        return response

    @admin.action(description=_("Erase the selected people's data (keeps them on do-not-call)"), permissions=["delete"])
    def erase_personal_data(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse | None:
        form = EraseConfirmForm(request.POST if "erase_confirmed" in request.POST else None)
        if form.is_valid():
            for contact in queryset:
                contact_erase(contact=contact, actor=request.user)
            count = queryset.count()
            self.message_user(
                request,
                ngettext(
                    "Erased %(count)d person's data; their number stays suppressed.",
                    "Erased %(count)d people's data; their numbers stay suppressed.",
                    count,
                )
                % {"count": count},
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Erase personal data?"),
            "opts": self.model._meta,
            "contacts": queryset,
            "form": form,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/contacts/contact/erase_confirmation.html", context)


@admin.register(ContactImportJob)
class ContactImportJobAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """An import's page is its progress bar, then its summary and the rows not imported."""

    list_display = (
        "original_name", "status", "contact_list", "total_rows", "created_count", "updated_count",
        "unchanged_count", "skipped_count", "rejected_count", "created_by", "created_at",
    )  # fmt: skip
    list_filter = ("status",)
    list_select_related = ("contact_list", "created_by")
    search_fields = ("original_name",)
    date_hierarchy = "created_at"
    change_form_template = "admin/contacts/contactimportjob/progress.html"
    fields = ("original_name", "file_format", "sheet", "contact_list", "status", "created_by", "created_at",
              "started_at", "finished_at")  # fmt: skip
    readonly_fields = fields

    def get_urls(self) -> list:
        return [
            path(
                "<int:job_id>/progress.json",
                self.admin_site.admin_view(self.progress_view),
                name="contacts_contactimportjob_progress",
            ),
            path(
                "<int:job_id>/not-imported.csv",
                self.admin_site.admin_view(self.issues_csv_view),
                name="contacts_contactimportjob_issues",
            ),
            *super().get_urls(),
        ]

    def _job(self, request: HttpRequest, job_id: int) -> ContactImportJob:
        job = get_object_or_404(ContactImportJob, pk=job_id)
        if not self.has_view_permission(request, job):
            raise PermissionDenied
        return job

    def progress_view(self, request: HttpRequest, job_id: int) -> JsonResponse:
        return JsonResponse(import_job_progress(job=self._job(request, job_id)))

    def issues_csv_view(self, request: HttpRequest, job_id: int) -> StreamingHttpResponse:
        """The rows that were not imported: row, outcome, reason, then the row's own cells (formulas neutralised)."""
        job = self._job(request, job_id)

        class Echo:
            def write(self, value: str) -> str:
                return value

        writer = csv.writer(Echo())

        def rows():
            yield "\ufeff"  # so that Excel reads the file as UTF-8
            yield writer.writerow([gettext("row"), gettext("outcome"), gettext("reason"), gettext("cells of the row…")])
            for issue in job.issues.order_by("row_number").iterator(chunk_size=2000):
                cells = [neutralise_formula(cell) for cell in issue.values]
                yield writer.writerow([issue.row_number, issue.get_outcome_display(), issue.reason, *cells])

        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        # The operator's file name goes into a header: keep only characters that cannot break it.
        stem = re.sub(r"[^A-Za-z0-9._-]+", "-", job.original_name.rsplit(".", 1)[0])[:80].strip("-.") or "import"
        response["Content-Disposition"] = f'attachment; filename="{stem}-not-imported.csv"'
        return response

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        job = self._job(request, int(object_id))
        extra = {
            "job": job,
            "progress": import_job_progress(job=job),
            "progress_url": reverse("admin:contacts_contactimportjob_progress", args=[job.pk]),
            "issues_url": reverse("admin:contacts_contactimportjob_issues", args=[job.pk]),
            "issue_preview": job.issues.order_by("row_number")[:50],
        }
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})


@admin.register(Suppression)
class SuppressionAdmin(SafeExportMixin, admin.ModelAdmin):
    """Do-not-call numbers. Nothing is ever deleted: lifting a suppression keeps it, marked as lifted."""

    resource_classes = [SuppressionResource]
    form = SuppressionAdminForm
    list_display = (phone_shown, "is_active", "source", "reason", "created_by", "created_at", "lifted_at")
    list_filter = ("source", ("lifted_at", admin.EmptyFieldListFilter))
    search_fields = ("phone", "reason")
    date_hierarchy = "created_at"
    list_select_related = ("created_by",)
    readonly_fields = ("created_by", "created_at", "lifted_at", "lifted_by", "lift_reason")
    actions = ("lift_suppressions",)
    change_list_template = "admin/contacts/suppression/change_list.html"

    @admin.display(boolean=True, description=_("active"))
    def is_active(self, suppression: Suppression) -> bool:
        return suppression.is_active

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # history is kept; "lift" ends a suppression

    def get_readonly_fields(self, request: HttpRequest, obj: Suppression | None = None) -> tuple:
        return ("phone", "source", *self.readonly_fields) if obj else self.readonly_fields

    def get_form(self, request: HttpRequest, obj: Suppression | None = None, change: bool = False, **kwargs: object):
        if obj is not None:
            kwargs["form"] = SuppressionChangeForm
        return super().get_form(request, obj, change=change, **kwargs)

    def save_model(self, request: HttpRequest, obj: Suppression, form: SuppressionAdminForm, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)  # only the reason can change
            return
        suppression = suppression_add(
            phone=obj.phone, reason=obj.reason, source=obj.source or Suppression.Source.ADMIN, created_by=request.user
        )
        obj.pk, obj.created_at = suppression.pk, suppression.created_at

    @admin.action(
        description=_("Lift the selected suppressions (they are kept, marked lifted)"), permissions=["change"]
    )
    def lift_suppressions(self, request: HttpRequest, queryset: QuerySet) -> None:
        lifted = [
            suppression_remove(phone=s.phone, lifted_by=request.user, reason=gettext("lifted in the admin"))
            for s in queryset.active()
        ]
        count = sum(1 for s in lifted if s)
        self.message_user(
            request,
            ngettext("Lifted %(count)d suppression.", "Lifted %(count)d suppressions.", count) % {"count": count},
        )

    def get_urls(self) -> list:
        return [
            path(
                "import-numbers/",
                self.admin_site.admin_view(self.import_numbers_view),
                name="contacts_suppression_import_numbers",
            ),
            *super().get_urls(),
        ]

    def import_numbers_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = SuppressionImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["import_file"]
            try:
                summary = suppression_import(
                    stream=upload,
                    file_format="xlsx" if upload.name.lower().endswith(".xlsx") else "csv",
                    reason=form.cleaned_data["reason"],
                    created_by=request.user,
                )
            except ImportFileError as error:
                form.add_error("import_file", str(error))
            else:
                self.message_user(
                    request,
                    gettext(
                        "Suppressed %(added)d numbers; %(already)d were already suppressed; %(invalid)d rows had no "
                        "valid number."
                    )
                    % {"added": summary.added, "already": summary.already_suppressed, "invalid": len(summary.invalid)},
                )
                for line in summary.invalid[:20]:
                    self.message_user(request, line, level=messages.WARNING)
                return HttpResponseRedirect(reverse("admin:contacts_suppression_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Suppress numbers from a file"),
            "opts": self.model._meta,
            "form": form,
        }
        return TemplateResponse(request, "admin/contacts/suppression/import_numbers.html", context)


@admin.register(Consent)
class ConsentAdmin(admin.ModelAdmin):
    list_display = ("contact", "purpose", "source", "given_at", "revoked_at")
    list_filter = ("purpose", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("contact__phone", "contact__first_name", "contact__last_name", "source")
    date_hierarchy = "given_at"
    autocomplete_fields = ("contact",)
    list_select_related = ("contact",)


@admin.register(OperatorAction)
class OperatorActionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The audit log: read-only for everyone, superusers included."""

    list_display = ("created_at", "actor", "action", "target_type", "target_id", "target_repr")
    list_filter = ("action", "target_type")
    search_fields = ("target_id", "actor__username")
    date_hierarchy = "created_at"
    list_select_related = ("actor",)
    fields = ("created_at", "actor", "action", "target_type", "target_id", "target_repr", "details")
    readonly_fields = fields
