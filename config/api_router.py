"""Every `/api/v1/` route, one router for all apps."""

from rest_framework.routers import DefaultRouter

from campaigns.apis import CampaignViewSet

router = DefaultRouter()
router.register("campaigns", CampaignViewSet, basename="campaign")

app_name = "api"
urlpatterns = router.urls
