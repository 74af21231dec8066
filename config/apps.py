from django.contrib.admin.apps import AdminConfig


class CallwrightAdminConfig(AdminConfig):
    """django.contrib.admin, with Callwright's site (it says which providers are active)."""

    default_site = "config.admin_site.CallwrightAdminSite"
