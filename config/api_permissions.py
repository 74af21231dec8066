from rest_framework.permissions import SAFE_METHODS, BasePermission, DjangoModelPermissions


class ModelPermissionsIncludingView(DjangoModelPermissions):
    """Django model permissions for every method, reads included.

    DRF's own class lets any authenticated user read; here a token must belong to a user who holds
    `<app>.view_<model>` to list or fetch, and add/change/delete to write. A view's action may name the
    permissions it needs instead (`action_permissions = {"launch": ["campaigns.change_campaign"]}`): an
    action that changes a campaign's state is a change, even when it is a POST.
    """

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }

    def has_permission(self, request, view) -> bool:
        wanted = getattr(view, "action_permissions", {}).get(getattr(view, "action", None))
        if wanted is None:
            return super().has_permission(request, view)
        return bool(request.user and request.user.is_authenticated and request.user.has_perms(wanted))


class TokenScopePermission(BasePermission):
    """A read-only integration token may only read, whatever its user may do."""

    message = "This token is read-only; writing needs a read-write token."

    def has_permission(self, request, view) -> bool:
        scope = getattr(request.auth, "scope", None)
        return scope != "read_only" or request.method in SAFE_METHODS
