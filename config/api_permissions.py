"""Who may do what on the API: model permissions for every object, object grants (django-guardian) for some.

A view that takes object grants names where they are held, `object_grants`:
- `"self"`: on the object itself (a campaign, a contact list);
- a path to it (`"campaign"`, `"lists"`, `"contact__lists"`): the object is reached through the one holding the
  grant — a campaign's targets and calls, a contact list's contacts and their consents.

The rules, for a user (or the user a token acts as):
- the model permission (`campaigns.view_campaign`) covers every object, as before;
- without it, an object grant covers that object: `view_campaign` on campaign 7 reads campaign 7, and through
  it its targets and calls (`view_<holder>`); `change_campaign` on it edits it and runs its lifecycle actions,
  and a grant of `change_contactlist` edits the list's contacts (a write through a holder needs `change_<holder>`,
  on every holder when several hold the object: a contact also in a list not granted is not the caller's to change);
- lists show only the objects granted; another object's address answers 404, as if it did not exist;
- an object visible but not granted for a write answers 403;
- creating (a POST to a collection: a contact, a campaign, a bulk upsert) needs the model permission: a new
  object has no grant yet, and a contact's number is matched across every list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Model, QuerySet
from guardian.shortcuts import get_objects_for_user
from rest_framework.filters import BaseFilterBackend
from rest_framework.permissions import SAFE_METHODS, BasePermission, DjangoModelPermissions
from rest_framework.request import Request

if TYPE_CHECKING:  # rest_framework.views imports this module (DEFAULT_PERMISSION_CLASSES) as it loads
    from rest_framework.views import APIView

SELF = "self"


def holder_of(model: type[Model], path: str) -> type[Model]:
    """The model at the end of `path` from `model` (`model` itself for "self")."""
    if path == SELF:
        return model
    for name in path.split("__"):
        model = model._meta.get_field(name).related_model
    return model


def holder_permission(permission: str, model: type[Model], path: str) -> str:
    """The grant on the holder that stands for `permission` on `model`: the same one on the object itself; through
    a holder, `view_<holder>` to read and `change_<holder>` to write."""
    if path == SELF:
        return permission
    holder = holder_of(model, path)
    verb = permission.partition(".")[2].partition("_")[0]
    return f"{holder._meta.app_label}.{'view' if verb == 'view' else 'change'}_{holder._meta.model_name}"


def granted_holders(user: object, permission: str, model: type[Model], path: str) -> QuerySet:
    """The holders on which `user` (or one of its groups) has the grant standing for `permission` on `model`."""
    return get_objects_for_user(
        user, holder_permission(permission, model, path), holder_of(model, path), accept_global_perms=False
    )


def granted(user: object, permission: str, queryset: QuerySet, path: str) -> QuerySet:
    """`queryset` narrowed to the objects `user` holds `permission` on through object grants."""
    holders = granted_holders(user, permission, queryset.model, path).values("pk")
    if path == SELF:
        return queryset.filter(pk__in=holders)
    if not many_valued(queryset.model, path):
        return queryset.filter(**{f"{path}__in": holders})  # a call's campaign: `campaign_id IN (…)`
    # A subquery of primary keys: through a many-to-many path (a contact's lists) a join would repeat rows.
    return queryset.filter(pk__in=queryset.filter(**{f"{path}__in": holders}).values("pk"))


def many_valued(model: type[Model], path: str) -> bool:
    """Whether `path` from `model` may reach several objects (a many-to-many or reverse relation on the way)."""
    if path == SELF:
        return False
    for name in path.split("__"):
        field = model._meta.get_field(name)
        if field.many_to_many or field.one_to_many:
            return True
        model = field.related_model
    return False


class ModelOrObjectPermissions(DjangoModelPermissions):
    """Django model permissions for every method, reads included, or object grants where a view takes them.

    DRF's own class lets any authenticated user read; here reading needs `<app>.view_<model>`, and writing
    add/change/delete. A view's action may name the permissions it needs instead
    (`action_permissions = {"launch": ["campaigns.change_campaign"]}`): an action that changes a campaign's
    state is a change, even when it is a POST. See the module's docstring for object grants.
    """

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }

    def wanted(self, request: Request, view: APIView) -> list[str]:
        named = getattr(view, "action_permissions", {}).get(getattr(view, "action", None))
        if named is not None:
            return named
        return self.get_required_permissions(request.method, self._queryset(view).model)

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False
        wanted = self.wanted(request, view)
        if user.has_perms(wanted):
            return True
        path = getattr(view, "object_grants", None)
        if path is None or not (getattr(view, "detail", False) or request.method in SAFE_METHODS):
            return False
        model = self._queryset(view).model
        return all(granted_holders(user, permission, model, path).exists() for permission in wanted)

    def has_object_permission(self, request: Request, view: APIView, obj: Model) -> bool:
        user, wanted = request.user, self.wanted(request, view)
        if user.has_perms(wanted):
            return True
        path = getattr(view, "object_grants", None)
        if path is None:
            return False
        queryset = self._queryset(view).filter(pk=obj.pk)
        return all(self._granted_on(user, permission, queryset, path) for permission in wanted)

    @staticmethod
    def _granted_on(user: object, permission: str, queryset: QuerySet, path: str) -> bool:
        """Reading needs the grant on one holder of the object; writing an object several hold (a contact in
        several lists) needs it on every one: a client may not change a person another client's list holds."""
        if permission.partition(".")[2].startswith("view_") or not many_valued(queryset.model, path):
            return granted(user, permission, queryset, path).exists()
        holders = set(queryset.values_list(path, flat=True)) - {None}
        allowed = granted_holders(user, permission, queryset.model, path).filter(pk__in=holders)
        return bool(holders) and len(holders) == allowed.count()


class GrantedObjectsFilter(BaseFilterBackend):
    """Lists and detail lookups of a view that takes object grants show only what the caller may see: all of it
    with the model permission, else the objects granted (so another object's address is a 404)."""

    def filter_queryset(self, request: Request, queryset: QuerySet, view: APIView) -> QuerySet:
        path = getattr(view, "object_grants", None)
        if path is None:
            return queryset
        user, options = request.user, queryset.model._meta
        read = f"{options.app_label}.view_{options.model_name}"
        if user.has_perm(read) or user.has_perms(ModelOrObjectPermissions().wanted(request, view)):
            return queryset
        return granted(user, read, queryset, path)


class TokenScopePermission(BasePermission):
    """A read-only integration token may only read, whatever its user may do."""

    message = "This token is read-only; writing needs a read-write token."

    def has_permission(self, request: Request, view: APIView) -> bool:
        scope = getattr(request.auth, "scope", None)
        return scope != "read_only" or request.method in SAFE_METHODS
