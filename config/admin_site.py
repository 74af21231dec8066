"""The admin is Callwright's operator UI: its titles. (Its front page lists the providers in use through
voice's `active_providers` template tag, templates/admin/index.html.)"""

from django.contrib import admin


class CallwrightAdminSite(admin.AdminSite):
    site_header = "Callwright"
    site_title = "Callwright operator console"
    index_title = "Campaigns, contacts and calls"
