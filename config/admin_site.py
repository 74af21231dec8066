"""The admin is Callwright's operator UI; its front page also shows which providers are live."""

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse

from voice.providers.selection import active_providers


class CallwrightAdminSite(admin.AdminSite):
    site_header = "Callwright"
    site_title = "Callwright operator console"
    index_title = "Campaigns, contacts and calls"

    def index(self, request: HttpRequest, extra_context: dict | None = None) -> TemplateResponse:
        extra_context = {**(extra_context or {}), "active_providers": active_providers()}
        return super().index(request, extra_context)
