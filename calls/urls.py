"""Twilio's webhooks (DESIGN.md §7); a path that is not a UUID is a 404 before any view runs."""

from django.urls import path

from calls import webhooks

app_name = "calls"

urlpatterns = [
    path("twilio/voice/<uuid:call_id>/", webhooks.voice, name="twilio-voice"),
    path("twilio/status/<uuid:call_id>/", webhooks.status, name="twilio-status"),
    path("twilio/amd/<uuid:call_id>/", webhooks.amd, name="twilio-amd"),
    path("twilio/recording/<uuid:call_id>/", webhooks.recording, name="twilio-recording"),
]
