"""The live board and the campaign moves made from it (`/live/`)."""

from django.contrib import admin
from django.urls import path

from campaigns import live_views

app_name = "live"

urlpatterns = [
    path("", admin.site.admin_view(live_views.board), name="board"),
    path("campaigns/<int:campaign_id>/<str:move>/", admin.site.admin_view(live_views.pace), name="pace"),
]
