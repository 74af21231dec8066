"""Each operator's language in the admin: chosen with the language switch, kept per user, applied at login.

Django's `LocaleMiddleware` picks a language from the switch's cookie, else the browser's Accept-Language,
else `LANGUAGE_CODE`. For a logged-in operator with a stored preference, that preference wins, on any
browser: it is copied into the session at login (`remember_at_login`, so no query per request) and
activated by `OperatorLanguageMiddleware`, which runs after authentication. The switch goes through
`set_language` below, which stores the choice and then hands the request to Django's own `set_language`
view (the cookie, the redirect).
"""

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.views.decorators.http import require_POST
from django.views.i18n import set_language as django_set_language

from contacts.models import OperatorPreference

SESSION_KEY = "operator_language"


def operator_language_set(*, user: AbstractBaseUser, language: str) -> bool:
    """Store `language` as the operator's own; False (nothing stored) for a language the admin does not offer."""
    if language not in dict(settings.LANGUAGES):
        return False
    OperatorPreference.objects.update_or_create(user=user, defaults={"language": language})
    return True


def operator_language(user: AbstractBaseUser) -> str:
    """The operator's stored language, or "" (then the cookie, the browser or LANGUAGE_CODE decide)."""
    return OperatorPreference.objects.filter(user=user).values_list("language", flat=True).first() or ""


def remember_at_login(sender: object, request: HttpRequest, user: AbstractBaseUser, **kwargs: object) -> None:
    """`user_logged_in` receiver: the operator's language travels in the session from now on."""
    if request is not None and hasattr(request, "session"):
        request.session[SESSION_KEY] = operator_language(user)


class OperatorLanguageMiddleware:
    """After AuthenticationMiddleware: a logged-in operator's stored language is the request's language."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # No session cookie (Twilio's webhooks, the API with a token): nothing to look up, not even the user.
        signed_in = settings.SESSION_COOKIE_NAME in request.COOKIES and request.user.is_authenticated
        language = request.session.get(SESSION_KEY, "") if signed_in else ""
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """The admin's language switch: remember the choice for a logged-in operator, then Django's own view."""
    language = request.POST.get("language", "")
    if request.user.is_authenticated and operator_language_set(user=request.user, language=language):
        request.session[SESSION_KEY] = language
    return django_set_language(request)
