"""Admin pages of integrations: tokens (key shown once), webhook subscriptions, deliveries and their attempts
(resend by hand; resume a paused subscription)."""

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from guardian.models import GroupObjectPermission, UserObjectPermission

from campaigns.integrations.models import (
    IntegrationToken,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
from campaigns.integrations.tokens import integration_token_revoke, issue_key
from campaigns.integrations.webhooks import new_secret, webhook_delivery_resend, webhook_subscription_resume


@admin.register(IntegrationToken)
class IntegrationTokenAdmin(admin.ModelAdmin):
    list_display = ("name", "key_prefix", "user", "scope", "created_at", "last_used_at", "revoked_at")
    list_filter = ("scope", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "key_prefix", "user__username")
    readonly_fields = ("key_prefix", "created_at", "last_used_at", "revoked_at", "object_grants")
    autocomplete_fields = ("user",)
    actions = ("revoke",)

    def get_readonly_fields(self, request: HttpRequest, obj: IntegrationToken | None = None) -> tuple[str, ...]:
        # A token's user is fixed once issued: moving a key to another user would hand it their rights.
        return (*self.readonly_fields, "user") if obj is not None else self.readonly_fields

    @admin.display(description=_("object grants"))
    def object_grants(self, token: IntegrationToken) -> str:
        """What the token's user, or a group of its, was granted on single objects (a campaign, a contact list),
        each linked to that object's grants page, where they are changed."""
        if token.pk is None:
            return "—"
        grants = [
            *UserObjectPermission.objects.filter(user=token.user_id).select_related("permission", "content_type"),
            *GroupObjectPermission.objects.filter(group__user=token.user_id).select_related(
                "permission", "content_type", "group"
            ),
        ]
        if not grants:
            return _("None: the token acts with its user's model permissions only (grant one campaign or contact "
                     "list on that object's page, under Object permissions, to the user “%(user)s”).") % {
                "user": token.user
            }  # fmt: skip
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}</li>", (
            (self._grant_line(grant),) for grant in grants
        )))  # fmt: skip

    def _grant_line(self, grant: UserObjectPermission | GroupObjectPermission) -> str:
        content_type, target = grant.content_type, grant.content_object
        via = format_html(" ({})", _("through the group “%(group)s”") % {"group": grant.group}) if (
            isinstance(grant, GroupObjectPermission)
        ) else ""  # fmt: skip
        try:
            url = reverse(f"admin:{content_type.app_label}_{content_type.model}_permissions", args=[grant.object_pk])
        except NoReverseMatch:
            return format_html("{}: {}{}", grant.permission.name, target, via)
        return format_html('{}: <a href="{}">{}</a>{}', grant.permission.name, url, target, via)

    def save_model(self, request: HttpRequest, obj: IntegrationToken, form: object, change: bool) -> None:
        key = None if change else issue_key(obj)
        super().save_model(request, obj, form, change)
        if key is not None:
            self.message_user(
                request,
                gettext("The key of “%(name)s” is %(key)s — copy it now: it is not stored and will not be shown again.")
                % {"name": obj.name, "key": key},
                messages.WARNING,
            )

    @admin.action(description=_("Revoke the selected tokens"), permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> None:
        revoked = sum(integration_token_revoke(token_id=pk) for pk in queryset.values_list("pk", flat=True))
        self.message_user(
            request,
            gettext("Revoked %(count)d token(s); requests with them now get 401.") % {"count": revoked},
            messages.SUCCESS,
        )


class WebhookSubscriptionForm(forms.ModelForm):
    url = forms.URLField(label="URL", max_length=500, assume_scheme="https", help_text=_("Where events are POSTed."))

    class Meta:
        model = WebhookSubscription
        fields = ("name", "url", "events", "secret", "is_active")


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    form = WebhookSubscriptionForm
    list_display = ("name", "url", "events", "is_active", "paused_at", "consecutive_failures")
    list_filter = ("is_active", ("paused_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "url")
    readonly_fields = ("consecutive_failures", "paused_at", "paused_reason", "created_by", "created_at")
    actions = ("resume",)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, object]:
        return {"secret": new_secret(), "events": [event.value for event in WebhookEvent]}

    def save_model(self, request: HttpRequest, obj: WebhookSubscription, form: object, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.action(description=_("Resume delivering to the selected subscriptions"), permissions=["change"])
    def resume(self, request: HttpRequest, queryset: QuerySet) -> None:
        queued = sum(webhook_subscription_resume(subscription_id=pk) for pk in queryset.values_list("pk", flat=True))
        self.message_user(
            request, gettext("Resumed; %(count)d pending deliveries queued.") % {"count": queued}, messages.SUCCESS
        )


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    fields = ("number", "attempted_at", "status_code", "error", "response_excerpt", "duration_ms")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("event", "subscription", "event_key", "status", "attempts", "next_attempt_at", "created_at")
    list_filter = ("status", "event", "subscription")
    search_fields = ("event_key", "event")
    readonly_fields = ("subscription", "event", "event_key", "payload", "status", "attempts", "next_attempt_at",
                       "delivered_at", "created_at")  # fmt: skip
    inlines = (WebhookAttemptInline,)
    actions = ("resend",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description=_("Resend the selected deliveries now"), permissions=["change"])
    def resend(self, request: HttpRequest, queryset: QuerySet) -> None:
        sent = sum(webhook_delivery_resend(delivery_id=pk) for pk in queryset.values_list("pk", flat=True))
        self.message_user(
            request, gettext("%(count)d deliveries queued to be sent again.") % {"count": sent}, messages.SUCCESS
        )


class ObjectGrantAdmin(admin.ModelAdmin):
    """Every object grant at a glance (django-guardian's rows): find a user's or a group's, revoke by deleting.
    Grants are given on the object's own page (*Object permissions*), where the object is chosen by name."""

    list_display = ("permission", "content_type", "object_pk", "content_object")
    list_filter = ("content_type", "permission")
    list_select_related = ("permission", "content_type")
    readonly_fields = ("permission", "content_type", "object_pk")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(UserObjectPermission)
class UserObjectGrantAdmin(ObjectGrantAdmin):
    list_display = ("user", *ObjectGrantAdmin.list_display)
    list_select_related = ("user", *ObjectGrantAdmin.list_select_related)
    search_fields = ("user__username",)
    readonly_fields = ("user", *ObjectGrantAdmin.readonly_fields)


@admin.register(GroupObjectPermission)
class GroupObjectGrantAdmin(ObjectGrantAdmin):
    list_display = ("group", *ObjectGrantAdmin.list_display)
    list_select_related = ("group", *ObjectGrantAdmin.list_select_related)
    search_fields = ("group__name",)
    readonly_fields = ("group", *ObjectGrantAdmin.readonly_fields)
