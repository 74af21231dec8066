"""A URLconf without Twilio's webhooks: a test swaps it in to check that cached URL matches follow the URLconf."""

from django.urls import path

from monitoring.views import health

urlpatterns = [path("health/", health)]
