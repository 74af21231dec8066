"""Webhook subscriptions and their deliveries over the API (an integration manages its own webhooks)."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from campaigns.integrations.models import WebhookAttempt, WebhookDelivery, WebhookEvent, WebhookSubscription
from campaigns.integrations.webhook_urls import UnsafeWebhookURL, webhook_url_check
from campaigns.integrations.webhooks import new_secret, webhook_delivery_resend, webhook_subscription_resume
from contacts.apis import NewestFirst


class WebhookSubscriptionSerializer(serializers.ModelSerializer):
    events = serializers.MultipleChoiceField(choices=WebhookEvent.choices, allow_empty=False)
    secret = serializers.CharField(
        write_only=True, required=False, min_length=16, max_length=100,
        help_text="Signs each delivery; generated when not given and shown once, in the creation's answer.",
    )  # fmt: skip

    class Meta:
        model = WebhookSubscription
        fields = ("id", "name", "url", "events", "secret", "is_active", "paused_at", "paused_reason",
                  "consecutive_failures", "created_at")  # fmt: skip
        read_only_fields = ("id", "paused_at", "paused_reason", "consecutive_failures", "created_at")

    def validate_url(self, value: str) -> str:
        try:
            webhook_url_check(value)
        except UnsafeWebhookURL as refusal:
            raise serializers.ValidationError(str(refusal)) from refusal
        return value

    def validate_events(self, value: set[str]) -> list[str]:
        return sorted(value)


class CreatedSubscriptionSerializer(WebhookSubscriptionSerializer):
    secret = serializers.CharField(read_only=True, help_text="Shown once: keep it to check signatures.")


class WebhookAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ("number", "attempted_at", "status_code", "error", "response_excerpt", "duration_ms")


class WebhookDeliverySerializer(serializers.ModelSerializer):
    attempt_log = WebhookAttemptSerializer(many=True, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = ("id", "subscription", "event", "event_key", "payload", "status", "attempts", "next_attempt_at",
                  "delivered_at", "created_at", "attempt_log")  # fmt: skip
        read_only_fields = fields


class WebhookSubscriptionViewSet(viewsets.ModelViewSet):
    """Where Callwright POSTs events (signed: see the README's "Webhooks" section). `resume` restarts one
    paused after too many straight failures and sends what waited."""

    queryset = WebhookSubscription.objects.all()
    serializer_class = WebhookSubscriptionSerializer
    action_permissions = {"resume": ["campaigns.change_webhooksubscription"]}

    @extend_schema(
        responses={201: CreatedSubscriptionSerializer},
        examples=[OpenApiExample("Calls ended", value={"name": "CRM", "url": "https://crm.example/hooks/callwright",
                                                       "events": ["call.ended"]}, request_only=True)],
    )  # fmt: skip
    def create(self, request: Request) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        subscription = WebhookSubscription.objects.create(
            **{**data, "secret": data.get("secret") or new_secret()}, created_by=request.user
        )
        return Response(CreatedSubscriptionSerializer(subscription).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=WebhookSubscriptionSerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request: Request, pk: str | None = None) -> Response:
        subscription = self.get_object()
        webhook_subscription_resume(subscription_id=subscription.pk)
        subscription.refresh_from_db()
        return Response(WebhookSubscriptionSerializer(subscription).data)


class WebhookDeliveryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Every event sent to a subscription, with each attempt; `resend` sends one again now."""

    queryset = WebhookDelivery.objects.prefetch_related("attempt_log")
    serializer_class = WebhookDeliverySerializer
    filterset_fields = ("subscription", "event", "status")
    pagination_class = NewestFirst
    ordering_fields = ()
    action_permissions = {"resend": ["campaigns.change_webhookdelivery"]}

    @extend_schema(request=None, responses={202: WebhookDeliverySerializer})
    @action(detail=True, methods=["post"])
    def resend(self, request: Request, pk: str | None = None) -> Response:
        delivery = self.get_object()
        webhook_delivery_resend(delivery_id=delivery.pk)
        delivery.refresh_from_db()
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
