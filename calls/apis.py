"""Calls over the API: read them (with events, transcript, latency and extracted fields), and place one.

POST /api/v1/calls/ passes the same gate as the admin's test call, which is the campaigns' dial-time gate
(`calls.selectors.test_call_refusals`): a refused call is a 409 naming the rule and when it opens.
"""

import django_filters
from django.utils import timezone
from django.utils.translation import gettext
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response

from calls.hooks import call_script
from calls.models import Call, CallEvent, CallStatus, TranscriptTurn
from calls.selectors import test_call_refusals
from calls.services import call_create_test
from contacts.apis import NewestFirst
from contacts.models import Contact


class DialRefused(APIException):
    """409: the gate refused the call. `detail` names the rule; `opens` says when it opens, when it will."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "dial_refused"

    def __init__(self, reason: str) -> None:
        rule, _, opens = reason.partition("; opens ")
        super().__init__(f"The call was not placed: {reason}.", self.default_code)
        self.extra = {"rule": rule, "opens": opens or None}


class CallEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = CallEvent
        fields = ("kind", "provider_event_id", "payload", "occurred_at", "received_at")


class TurnSerializer(serializers.ModelSerializer):
    class Meta:
        model = TranscriptTurn
        fields = ("index", "role", "text", "started_at", "ended_at", "interrupted", "stt_final_ms",
                  "llm_first_token_ms", "tts_first_byte_ms", "first_audio_sent_ms", "first_audio_heard_ms")  # fmt: skip


CALL_FIELDS = (
    "id", "contact", "campaign", "agent", "target", "direction", "to_phone", "from_phone", "provider", "status",
    "answered_by", "created_at", "started_at", "answered_at", "ended_at", "duration_seconds", "failure_reason",
    "outcome", "summary", "sentiment", "extracted_data", "latency_stats", "recording_url",
)  # fmt: skip


class CallSerializer(serializers.ModelSerializer):
    # Empty until known: plain strings in the schema, not an enum or a URI that "" would break.
    answered_by = serializers.CharField(read_only=True, help_text="human, machine_start, machine_end_beep, … or empty.")
    recording_url = serializers.CharField(read_only=True, help_text="Empty when the call was not recorded.")

    class Meta:
        model = Call
        fields = CALL_FIELDS
        read_only_fields = fields


class CallDetailSerializer(CallSerializer):
    events = CallEventSerializer(many=True, read_only=True)
    turns = TurnSerializer(many=True, read_only=True)

    class Meta(CallSerializer.Meta):
        fields = (*CALL_FIELDS, "events", "turns")
        read_only_fields = fields


class PlaceCallSerializer(serializers.Serializer):
    contact = serializers.PrimaryKeyRelatedField(queryset=Contact.objects.all())
    agent = serializers.IntegerField(help_text="Id of the agent who speaks.")

    def validate_agent(self, value: int) -> int:
        # calls knows agents only through the script their app registers (calls.hooks).
        if call_script(value) is None:
            raise serializers.ValidationError(gettext("There is no agent %(id)s.") % {"id": value})
        return value


class CallFilter(django_filters.FilterSet):
    # distinct=False: a filter on a column of the row itself joins nothing, and SELECT DISTINCT over every column
    # of a page of calls cost more than the rest of the request.
    status = django_filters.MultipleChoiceFilter(choices=CallStatus.choices, distinct=False)
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Call
        fields = ("campaign", "contact", "agent", "status", "outcome", "direction")


class CallViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Calls, newest first; filter by campaign, contact, agent, status, outcome and creation time."""

    queryset = Call.objects.all()
    object_grants = "campaign"  # a campaign's grants reach its calls (a test call, outside any: none)
    filterset_class = CallFilter
    pagination_class = NewestFirst
    ordering_fields = ()

    def get_queryset(self):
        if self.action == "retrieve":
            return Call.objects.prefetch_related("events", "turns")
        return Call.objects.all()

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return CallDetailSerializer if self.action == "retrieve" else CallSerializer

    @extend_schema(
        request=PlaceCallSerializer,
        responses={201: CallSerializer},
        examples=[OpenApiExample("Call a contact", value={"contact": 17, "agent": 1}, request_only=True)],
    )
    def create(self, request: Request) -> Response:
        """Place one call to one contact with an agent, now, through the dial-time gate (calling hours in the
        callee's zone, do-not-call, caps). 409 when the gate refuses, with the rule and when it opens."""
        data = PlaceCallSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        contact, agent = data.validated_data["contact"], data.validated_data["agent"]
        refusal = test_call_refusals(contact_ids=[contact.pk], now=timezone.now()).get(contact.pk)
        if refusal:
            raise DialRefused(refusal)
        call = call_create_test(contact_id=contact.pk, to_phone=contact.phone, agent_id=agent)
        return Response(CallSerializer(call).data, status=status.HTTP_201_CREATED)
