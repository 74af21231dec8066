from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from contacts.operator_language import set_language
from monitoring.views import health, live, metrics, ready

urlpatterns = [
    # First: Twilio's callbacks are most of the traffic, and Django tries patterns in order.
    path("", include("calls.urls")),  # /twilio/… webhooks
    path("", RedirectView.as_view(pattern_name="admin:index"), name="home"),  # "View site" lands in the admin
    path("admin/", admin.site.urls),
    path("i18n/setlang/", set_language, name="set_language"),  # the admin's language switch
    # The live pages' scripts' words (locale/<code>/LC_MESSAGES/djangojs.po) in the request's language.
    path("jsi18n/", JavaScriptCatalog.as_view(domain="djangojs"), name="javascript-catalog"),
    path("live/calls/", include("calls.live_urls")),  # live supervision (before `live/`: the board's prefix)
    path("live/", include("campaigns.live_urls")),
    path("api/v1/", include("config.api_router")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("health/", health, name="health"),
    path("health/live/", live, name="health-live"),
    path("health/ready/", ready, name="health-ready"),
    path("metrics", metrics, name="prometheus-django-metrics"),  # token or network rule (monitoring/exposition.py)
]

# Under /api/, an address no route matches answers problem details like every other API error.
handler404 = "campaigns.integrations.problems.page_not_found"
