"""Integration tokens: issue (the key is shown once), revoke, and authenticate API requests with them."""

import datetime
import hashlib
import secrets

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.signals import user_login_failed
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from campaigns.integrations.models import IntegrationToken

KEY_PREFIX = "cw_"
# `last_used_at` is written at most this often per token: one UPDATE per request would serialize a busy
# integration's requests on one row.
LAST_USED_RESOLUTION = datetime.timedelta(minutes=1)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue_key(token: IntegrationToken) -> str:
    """Give an unsaved token a new key (its hash and prefix); return the key, which is not stored: show it once."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    token.key_hash, token.key_prefix = hash_key(key), key[:10]
    return key


def integration_token_create(
    *, name: str, user: AbstractBaseUser, scope: str = IntegrationToken.Scope.READ_ONLY
) -> tuple[IntegrationToken, str]:
    """Issue a token acting as `user`; return it and its key (show the key once: only its hash is kept)."""
    token = IntegrationToken(name=name, user=user, scope=scope)
    key = issue_key(token)
    token.save()
    return token, key


def integration_token_revoke(*, token_id: int) -> bool:
    """Revoke a token at once (conditional UPDATE); False if it was already revoked."""
    return IntegrationToken.objects.filter(pk=token_id, revoked_at__isnull=True).update(revoked_at=timezone.now()) == 1


def token_for_key(key: str) -> IntegrationToken | None:
    """The active token whose key this is (its user active too), noting its use; None otherwise."""
    token = (
        IntegrationToken.objects.select_related("user")
        .filter(key_hash=hash_key(key), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        IntegrationToken.objects.filter(pk=token.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
        ).update(last_used_at=now)
    return token


class IntegrationTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer cw_…` (or `Token cw_…`). `request.auth` is the `IntegrationToken`."""

    keywords = ("bearer", "token")

    def authenticate(self, request: Request) -> tuple[AbstractBaseUser, IntegrationToken] | None:
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode(errors="replace").lower() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Send the token as “Authorization: Bearer <key>”, with no spaces in it."
            )
        try:
            key = header[1].decode()
        except UnicodeDecodeError as error:
            raise exceptions.AuthenticationFailed("The token holds characters a key never has.") from error
        # django-axes counts failed keys per client address and per key prefix, as it counts failed admin logins.
        credentials = {"username": f"token:{key[:10]}"}
        if settings.AXES_ENABLED and not AxesProxyHandler.is_allowed(request, credentials):
            raise exceptions.Throttled(
                wait=settings.AXES_COOLOFF_TIME.total_seconds(),
                detail=gettext(
                    "Too many failed token attempts from this address: locked out for a while. "
                    "An administrator can lift the lockout in the admin (Access attempts)."
                ),
            )
        token = token_for_key(key)
        if token is None:
            user_login_failed.send(sender=type(self), credentials=credentials, request=request)
            raise exceptions.AuthenticationFailed("The token is unknown or revoked.")
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class IntegrationTokenScheme(OpenApiAuthenticationExtension):
    """The token in the OpenAPI schema, so clients generated from it send `Authorization: Bearer …`."""

    target_class = IntegrationTokenAuthentication
    name = "integrationToken"

    def get_security_definition(self, auto_schema: object) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "An integration token (cw_…), from the admin."}
