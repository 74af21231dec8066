from rest_framework.permissions import DjangoModelPermissions


class ModelPermissionsIncludingView(DjangoModelPermissions):
    """Django model permissions for every method, reads included.

    DRF's own class lets any authenticated user read; here a token must belong to a user who holds
    `<app>.view_<model>` to list or fetch, and add/change/delete to write.
    """

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }
