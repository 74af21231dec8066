"""Agents, campaigns (with their lifecycle actions and the dial-time gate's preview) and targets over the API.

Writes are validated by the admin's own forms (`campaigns.forms`): the API keeps every rule an operator
meets (the AI disclosure in a first message, legal calling hours, JSON Schemas, phone numbers), in the same
words. Lifecycle actions call the same services as the admin's actions.
"""

import django_filters
from django import forms
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Model, ProtectedError
from django.forms.models import model_to_dict, modelform_factory
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from guardian.shortcuts import get_objects_for_user
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from campaigns import services
from campaigns.exceptions import CampaignError
from campaigns.forms import AgentAdminForm, CampaignAdminForm
from campaigns.integrations.problems import Problem
from campaigns.models import Agent, Campaign, CampaignTarget
from campaigns.representation import CAMPAIGN_FIELDS, CampaignOutputSerializer
from campaigns.selectors import campaign_list, campaign_preview
from contacts.apis import NewestFirst
from contacts.models import ContactList


def save_with_form(form_class: type[forms.ModelForm], fields: tuple[str, ...], data: dict, instance: Model | None):
    """Validate `data` with the admin's form limited to `fields` and save it (a new row when `instance` is None).
    Raises ValidationError with the form's own words."""
    form_class = modelform_factory(form_class._meta.model, form=form_class, fields=fields)
    # What is not sent keeps its value: the stored one, or for a new row the model's default.
    values = model_to_dict(instance or form_class._meta.model(), fields=fields)
    for name, value in values.items():
        if isinstance(value, list) and value and isinstance(value[0], Model):
            values[name] = [item.pk for item in value]
    values.update({name: value for name, value in data.items() if name in fields})
    for name, value in list(values.items()):
        if value is None:
            values[name] = ""
    form = form_class(data=values, instance=instance)
    if not form.is_valid():
        errors = {
            ("non_field_errors" if name == "__all__" else name): [error["message"] for error in messages]
            for name, messages in form.errors.get_json_data().items()
        }
        raise ValidationError(errors)
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValidationError({name: [gettext("This field cannot be written.")] for name in unknown})
    return form.save()


class Conflict(Problem):
    def __init__(self, detail: str) -> None:
        super().__init__(detail, code="conflict", status_code=status.HTTP_409_CONFLICT, title=gettext("Conflict"))


# ---- agents ------------------------------------------------------------------------------------

AGENT_FIELDS = (
    "name", "language", "system_prompt", "first_message", "voicemail_message", "voice_provider", "voice_id",
    "voice_model", "voice_speed", "llm_model", "llm_temperature", "can_end_call", "can_opt_out", "can_transfer",
    "transfer_number", "can_record_outcome", "can_schedule_callback", "outcome_schema", "silence_reprompt_seconds",
    "silence_hang_up_seconds",
)  # fmt: skip


class AgentSerializer(serializers.ModelSerializer):
    # Declared: the model's float bounds would make DRF warn; the admin's form checks the range on writes.
    voice_speed = serializers.DecimalField(max_digits=3, decimal_places=2, required=False, help_text="0.5 to 2.")
    llm_temperature = serializers.DecimalField(max_digits=3, decimal_places=2, required=False, help_text="0 to 2.")

    class Meta:
        model = Agent
        fields = ("id", *AGENT_FIELDS, "created_at", "updated_at")
        read_only_fields = ("id", "created_at", "updated_at")


class AgentViewSet(viewsets.ModelViewSet):
    """Agents: who speaks and how. The first message must say the call is automated (as in the admin)."""

    queryset = Agent.objects.all()
    serializer_class = AgentSerializer
    search_fields = ("name",)
    filterset_fields = ("language",)

    def perform_create(self, serializer: AgentSerializer) -> None:
        serializer.instance = save_with_form(AgentAdminForm, AGENT_FIELDS, self.request.data, None)

    def perform_update(self, serializer: AgentSerializer) -> None:
        serializer.instance = save_with_form(AgentAdminForm, AGENT_FIELDS, self.request.data, serializer.instance)

    def perform_destroy(self, instance: Agent) -> None:
        try:
            instance.delete()
        except ProtectedError as error:
            raise Conflict(gettext("This agent has campaigns or calls; it cannot be deleted.")) from error


# ---- campaigns ---------------------------------------------------------------------------------


class CampaignFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=Campaign.Status.choices, distinct=False)
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")

    class Meta:
        model = Campaign
        fields = ("status", "agent", "purpose")


class PreviewReasonSerializer(serializers.Serializer):
    reason = serializers.CharField()
    targets = serializers.IntegerField()
    next_allowed_at = serializers.DateTimeField(allow_null=True)


class PreviewSerializer(serializers.Serializer):
    campaign = serializers.IntegerField()
    status = serializers.CharField()
    at = serializers.DateTimeField()
    evaluated = serializers.IntegerField()
    would_dial = serializers.IntegerField()
    would_dial_sample = serializers.ListField(child=serializers.DictField())
    not_now = PreviewReasonSerializer(many=True)


LIFECYCLE = {
    "launch": services.campaign_launch,
    "schedule": services.campaign_schedule,
    "pause": services.campaign_pause,
    "resume": services.campaign_resume,
    "cancel": services.campaign_cancel,
}
CAMPAIGN_EXAMPLE = OpenApiExample(
    "A reminder campaign",
    value={"name": "December reminders", "agent": 1, "contact_lists": [1], "window_start": "09:00",
           "window_end": "19:00", "days_of_week": [1, 2, 3, 4, 5], "max_concurrent_calls": 5},
    request_only=True,
)  # fmt: skip


def check_lists_visible(user: AbstractBaseUser, *, campaign: Campaign, named: object) -> None:
    """A caller editing a campaign through an object grant may point it only at contact lists it may see (or that
    the campaign already has): else a grant on one campaign would call, and show the calls of, any list."""
    visible = get_objects_for_user(user, "contacts.view_contactlist", ContactList, accept_global_perms=False)
    allowed = {*visible.values_list("pk", flat=True), *campaign.contact_lists.values_list("pk", flat=True)}
    unknown = [value for value in named if value not in allowed] if isinstance(named, list) else []
    if unknown:
        raise ValidationError({"contact_lists": [f"There is no contact list {value}." for value in unknown]})


class CampaignViewSet(viewsets.ModelViewSet):
    """Campaigns: create and edit them, then launch (now), schedule (at `starts_at`), pause, resume or cancel.

    A lifecycle action that the campaign's state does not allow answers 409 with the reason.
    """

    serializer_class = CampaignOutputSerializer
    filterset_class = CampaignFilter
    search_fields = ("name",)
    ordering_fields = ("created_at", "name", "starts_at")
    queryset = Campaign.objects.all()
    object_grants = "self"
    action_permissions = {name: ["campaigns.change_campaign"] for name in LIFECYCLE} | {
        "preview": ["campaigns.view_campaign"]
    }

    def get_queryset(self):
        return campaign_list().prefetch_related("contact_lists")

    @extend_schema(examples=[CAMPAIGN_EXAMPLE])
    def create(self, request: Request) -> Response:
        return super().create(request)

    def perform_create(self, serializer: CampaignOutputSerializer) -> None:
        serializer.instance = save_with_form(CampaignAdminForm, CAMPAIGN_FIELDS, self.request.data, None)

    def perform_update(self, serializer: CampaignOutputSerializer) -> None:
        campaign = serializer.instance
        if campaign.status in (Campaign.Status.COMPLETED, Campaign.Status.CANCELLED):
            raise Conflict(
                gettext("The campaign is %(status)s; it can no longer change.")
                % {"status": campaign.get_status_display().lower()}
            )
        if "contact_lists" in self.request.data and not self.request.user.has_perm("campaigns.change_campaign"):
            check_lists_visible(self.request.user, campaign=campaign, named=self.request.data["contact_lists"])
        serializer.instance = save_with_form(CampaignAdminForm, CAMPAIGN_FIELDS, self.request.data, campaign)

    def perform_destroy(self, instance: Campaign) -> None:
        if instance.status != Campaign.Status.DRAFT:
            raise Conflict(gettext("Only a draft campaign can be deleted; cancel this one instead."))
        instance.delete()

    def _lifecycle(self, request: Request, name: str) -> Response:
        campaign = self.get_object()
        try:
            with transaction.atomic():
                LIFECYCLE[name](campaign_id=campaign.pk)
        except CampaignError as error:
            raise Conflict(str(error)) from error
        campaign.refresh_from_db()
        return Response(CampaignOutputSerializer(campaign).data)

    @extend_schema(request=None, responses=CampaignOutputSerializer)
    @action(detail=True, methods=["post"])
    def launch(self, request: Request, pk: str | None = None) -> Response:
        """Draft or scheduled → running now; its lists' contacts become targets."""
        return self._lifecycle(request, "launch")

    @extend_schema(request=None, responses=CampaignOutputSerializer)
    @action(detail=True, methods=["post"])
    def schedule(self, request: Request, pk: str | None = None) -> Response:
        """Draft → scheduled: it starts by itself at `starts_at` (which must lie ahead)."""
        return self._lifecycle(request, "schedule")

    @extend_schema(request=None, responses=CampaignOutputSerializer)
    @action(detail=True, methods=["post"])
    def pause(self, request: Request, pk: str | None = None) -> Response:
        """Running → paused: no new dial starts; queued calls are withdrawn."""
        return self._lifecycle(request, "pause")

    @extend_schema(request=None, responses=CampaignOutputSerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str | None = None) -> Response:
        """Paused → running."""
        return self._lifecycle(request, "resume")

    @extend_schema(request=None, responses=CampaignOutputSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        """Any open state → cancelled: pending targets are skipped; calls in progress finish."""
        return self._lifecycle(request, "cancel")

    @extend_schema(
        parameters=[OpenApiParameter("at", str, description="ISO 8601 instant with offset; default now.")],
        responses=PreviewSerializer,
    )
    @action(detail=True, methods=["get"])
    def preview(self, request: Request, pk: str | None = None) -> Response:
        """The dial-time gate's answer at `at`: how many targets it would let through, and for the others
        how many per rule and when each rule opens next."""
        campaign = self.get_object()
        at = None
        if request.query_params.get("at"):
            at = parse_datetime(request.query_params["at"])
            if at is None or at.tzinfo is None:
                raise ValidationError(
                    {"at": [gettext("Give an ISO 8601 instant with its offset, e.g. 2026-12-08T15:00Z.")]}
                )
        return Response(campaign_preview(campaign_id=campaign.pk, at=at).as_dict())


# ---- targets -----------------------------------------------------------------------------------


class TargetSerializer(serializers.ModelSerializer):
    class Meta:
        model = CampaignTarget
        fields = ("id", "campaign", "contact", "state", "attempts", "next_attempt_at", "last_outcome",
                  "state_reason", "created_at", "updated_at")  # fmt: skip
        read_only_fields = fields


class TargetFilter(django_filters.FilterSet):
    state = django_filters.MultipleChoiceFilter(choices=CampaignTarget.State.choices, distinct=False)

    class Meta:
        model = CampaignTarget
        fields = ("campaign", "contact", "state")


class TargetViewSet(viewsets.ReadOnlyModelViewSet):
    """Each contact's place in a campaign: state, attempts, next attempt and why it waits or closed."""

    queryset = CampaignTarget.objects.all()
    object_grants = "campaign"  # a campaign's grants reach its targets
    serializer_class = TargetSerializer
    filterset_class = TargetFilter
    pagination_class = NewestFirst
    ordering_fields = ()
