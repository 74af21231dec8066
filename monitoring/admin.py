"""Alert rules and their history in the admin: what to watch, where to say it, and what was said."""

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from monitoring.metrics import alert_metrics
from monitoring.models import AlertEvent, AlertRule


class AlertRuleForm(forms.ModelForm):
    metric = forms.ChoiceField(label=_("metric"), choices=())
    slack_webhook_url = forms.URLField(
        label=AlertRule._meta.get_field("slack_webhook_url").verbose_name,
        required=False,
        assume_scheme="https",
        max_length=500,
        help_text=AlertRule._meta.get_field("slack_webhook_url").help_text,
    )

    class Meta:
        model = AlertRule
        fields = ["name", "enabled", "metric", "comparison", "threshold", "window_minutes", "channel", "recipients",
                  "slack_webhook_url"]  # fmt: skip

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["metric"].choices = [(key, f"{metric.label} ({key})") for key, metric in alert_metrics().items()]

    def clean_recipients(self) -> str:
        addresses = [address.strip() for address in self.cleaned_data["recipients"].split(",") if address.strip()]
        validate = forms.EmailField().clean
        for address in addresses:
            try:
                validate(address)
            except forms.ValidationError:
                raise forms.ValidationError(
                    gettext("%(address)r is not an e-mail address.") % {"address": address}
                ) from None
        return ", ".join(addresses)


class AlertEventInline(admin.TabularInline):
    model = AlertEvent
    extra = 0
    can_delete = False
    max_num = 0
    fields = readonly_fields = ["created_at", "kind", "value", "message", "attempts", "delivered_at", "last_error"]
    ordering = ["-created_at"]

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    form = AlertRuleForm
    list_display = ["name", "metric", "comparison", "threshold", "window_minutes", "channel", "enabled", "firing",
                    "last_value", "last_evaluated_at"]  # fmt: skip
    list_filter = ["enabled", "firing", "channel", "metric"]
    search_fields = ["name"]
    readonly_fields = ["firing", "firing_since", "last_value", "last_evaluated_at"]
    inlines = [AlertEventInline]


@admin.register(AlertEvent)
class AlertEventAdmin(admin.ModelAdmin):
    """The alerts' history: read-only."""

    list_display = ["created_at", "rule", "kind", "value", "delivered_at", "attempts", "last_error"]
    list_filter = ["kind", "rule"]
    date_hierarchy = "created_at"
    readonly_fields = ["rule", "kind", "value", "message", "created_at", "attempts", "delivered_at", "last_error"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
