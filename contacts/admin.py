from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from calls.admin_actions import place_test_call
from contacts.forms import ContactAdminForm, SuppressionAdminForm
from contacts.models import Consent, Contact, ContactList, Suppression


@admin.register(ContactList)
class ContactListAdmin(admin.ModelAdmin):
    list_display = ("name", "contact_count", "created_at")
    search_fields = ("name", "description")
    date_hierarchy = "created_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).annotate(contact_count=Count("contacts"))

    @admin.display(description="contacts", ordering="contact_count")
    def contact_count(self, contact_list: ContactList) -> int:
        return contact_list.contact_count


class ConsentInline(admin.TabularInline):
    model = Consent
    extra = 0
    fields = ("purpose", "source", "evidence", "given_at", "revoked_at")


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    form = ContactAdminForm
    actions = (place_test_call,)
    list_display = ("__str__", "phone", "country", "time_zone", "time_zone_ambiguous", "language", "created_at")
    list_filter = ("time_zone_ambiguous", "country", "language", "lists")
    search_fields = ("phone", "first_name", "last_name", "email")
    date_hierarchy = "created_at"
    autocomplete_fields = ("lists",)
    inlines = (ConsentInline,)
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("first_name", "last_name", "phone", "email", "language", "lists")}),
        ("Where the callee is", {"fields": ("country", "time_zone", "time_zone_candidates", "time_zone_ambiguous")}),
        ("Script variables", {"fields": ("custom_fields",)}),
        ("History", {"fields": ("created_at", "updated_at")}),
    )


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    form = SuppressionAdminForm
    list_display = ("phone", "source", "reason", "created_by", "created_at")
    list_filter = ("source",)
    search_fields = ("phone", "reason")
    date_hierarchy = "created_at"
    list_select_related = ("created_by",)

    def save_model(self, request: HttpRequest, obj: Suppression, form: SuppressionAdminForm, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(Consent)
class ConsentAdmin(admin.ModelAdmin):
    list_display = ("contact", "purpose", "source", "given_at", "revoked_at")
    list_filter = ("purpose", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("contact__phone", "contact__first_name", "contact__last_name", "source")
    date_hierarchy = "given_at"
    autocomplete_fields = ("contact",)
    list_select_related = ("contact",)
