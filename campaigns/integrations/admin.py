"""Admin pages of integrations: tokens (key shown once), webhook subscriptions, deliveries and their attempts."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from campaigns.integrations.models import IntegrationToken
from campaigns.integrations.tokens import integration_token_revoke, issue_key


@admin.register(IntegrationToken)
class IntegrationTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "key_prefix", "user", "scope", "created_at", "last_used_at", "revoked_at")
    list_filter = ("scope", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "key_prefix", "user__username")
    readonly_fields = ("key_prefix", "created_at", "last_used_at", "revoked_at")
    autocomplete_fields = ("user",)
    actions = ("revoke",)

    def get_readonly_fields(self, request: HttpRequest, obj: IntegrationToken | None = None) -> tuple[str, ...]:
        # A token's user is fixed once issued: moving a key to another user would hand it their rights.
        return (*self.readonly_fields, "user") if obj is not None else self.readonly_fields

    def save_model(self, request: HttpRequest, obj: IntegrationToken, form: object, change: bool) -> None:
        key = None if change else issue_key(obj)
        super().save_model(request, obj, form, change)
        if key is not None:
            self.message_user(
                request,
                f"The key of “{obj.name}” is {key} — copy it now: it is not stored and will not be shown again.",
                messages.WARNING,
            )

    @admin.action(description="Revoke the selected tokens", permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> None:
        revoked = sum(integration_token_revoke(token_id=pk) for pk in queryset.values_list("pk", flat=True))
        self.message_user(request, f"Revoked {revoked} token(s); requests with them now get 401.", messages.SUCCESS)
