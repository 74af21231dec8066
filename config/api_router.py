"""Every `/api/v1/` route, one router for all apps."""

from rest_framework.routers import DefaultRouter

from calls.apis import CallViewSet
from campaigns.apis import AgentViewSet, CampaignViewSet, TargetViewSet
from campaigns.integrations.apis import WebhookDeliveryViewSet, WebhookSubscriptionViewSet
from contacts.apis import (
    ConsentViewSet,
    ContactImportViewSet,
    ContactListViewSet,
    ContactViewSet,
    SuppressionViewSet,
)

router = DefaultRouter()
router.register("contacts", ContactViewSet, basename="contact")
router.register("contact-lists", ContactListViewSet, basename="contact-list")
router.register("suppressions", SuppressionViewSet, basename="suppression")
router.register("consents", ConsentViewSet, basename="consent")
router.register("imports", ContactImportViewSet, basename="import")
router.register("agents", AgentViewSet, basename="agent")
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register("targets", TargetViewSet, basename="target")
router.register("calls", CallViewSet, basename="call")
router.register("webhooks", WebhookSubscriptionViewSet, basename="webhook")
router.register("webhook-deliveries", WebhookDeliveryViewSet, basename="webhook-delivery")

app_name = "api"
urlpatterns = router.urls
