"""Live supervision of one call (the board is the campaigns app's: it reads campaigns)."""

from django.contrib import admin
from django.urls import path

from calls import live_views

app_name = "live-calls"

urlpatterns = [
    path("<uuid:call_id>/", admin.site.admin_view(live_views.call_page), name="call"),
    path("<uuid:call_id>/steer/<str:action>/", admin.site.admin_view(live_views.steer), name="steer"),
]
