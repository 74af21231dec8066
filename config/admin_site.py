"""The admin is Callwright's operator UI: its titles. (Its front page lists the providers in use through
voice's `active_providers` template tag, templates/admin/index.html.)"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _


class CallwrightAdminSite(admin.AdminSite):
    site_header = "Callwright"
    site_title = _("Callwright operator console")
    index_title = _("Campaigns, contacts and calls")
