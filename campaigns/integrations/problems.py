"""Every API error as an RFC 9457 problem details document (`application/problem+json`).

{"type": "urn:callwright:problem:invalid", "title": "Invalid request", "status": 400,
 "detail": "…in words…", "instance": "/api/v1/contacts/", "code": "invalid", "errors": {"phone": ["…"]}}

`type` names the kind of problem (stable, for programs), `detail` says what happened (for people); a
validation error also lists its fields in `errors`, a refused dial its rule and opening in `rule`/`opens_at`.
"""

import http

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

PROBLEM_CONTENT_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:callwright:problem:"
TITLES = {
    "invalid": _("Invalid request"),
    "parse_error": _("Malformed request body"),
    "not_authenticated": _("Authentication required"),
    "authentication_failed": _("Authentication failed"),
    "permission_denied": _("Permission denied"),
    "not_found": _("Not found"),
    "method_not_allowed": _("Method not allowed"),
    "not_acceptable": _("Not acceptable"),
    "unsupported_media_type": _("Unsupported media type"),
    "throttled": _("Too many requests"),
    "dial_refused": _("Call refused by the dial-time gate"),
    "conflict": _("Conflict"),
    "idempotency_key_reused": _("Idempotency key reused with another request"),
}


class Problem(exceptions.APIException):
    """An API error of our own: a code (the problem's type), a status, words, and extra members."""

    def __init__(self, detail: str, *, code: str, status_code: int = 400, title: str = "", **extra: object) -> None:
        super().__init__(detail, code)
        self.status_code = status_code
        self.title = title
        self.extra = extra


def problem(
    *, status_code: int, code: str, detail: str, instance: str = "", title: str = "", **extra: object
) -> dict[str, object]:
    """A problem details document (a dict ready for JSON)."""
    body: dict[str, object] = {
        "type": TYPE_PREFIX + code,
        "title": str(title or TITLES.get(code) or http.HTTPStatus(status_code).phrase),
        "status": status_code,
        "detail": detail,
        "code": code,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return body


def _validation_detail(errors: object) -> str:
    if isinstance(errors, dict):
        fields = [str(name) for name in errors if name != "non_field_errors"]
        general = errors.get("non_field_errors") or []
        words = [str(message) for message in general]
        if fields:
            words.append(gettext("Check %(fields)s.") % {"fields": ", ".join(fields)})
        return " ".join(words) or gettext("The request is invalid.")
    if isinstance(errors, list) and errors and all(isinstance(item, str) for item in errors):
        return " ".join(map(str, errors))
    return gettext("The request is invalid.")


def problem_exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's EXCEPTION_HANDLER: DRF's own handling (headers such as Retry-After, WWW-Authenticate), then
    the body rewritten as problem details. Anything DRF does not handle (a bug) stays a 500."""
    response = exception_handler(exc, context)
    if response is None:
        return None
    request = context.get("request")
    instance = request.get_full_path() if request is not None else ""
    if isinstance(exc, Problem):
        body = problem(
            status_code=exc.status_code, code=exc.detail.code,
            detail=str(exc.detail), instance=instance, title=exc.title, **exc.extra,
        )  # fmt: skip
    elif isinstance(exc, exceptions.ValidationError):
        body = problem(
            status_code=response.status_code, code="invalid", detail=_validation_detail(response.data),
            instance=instance, errors=response.data,
        )  # fmt: skip
    else:
        if isinstance(exc, Http404):
            code, detail = "not_found", gettext("Nothing is here: check the id or the address.")
        elif isinstance(exc, PermissionDenied):
            code, detail = "permission_denied", gettext("You do not have permission to do this.")
        else:
            codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
            code = codes if isinstance(codes, str) else "error"
            detail = str(response.data.get("detail", "")) if isinstance(response.data, dict) else str(response.data)
        # Any app's exception may add members (`extra`), e.g. calls' refused dial: the rule and when it opens.
        extra = dict(getattr(exc, "extra", None) or {})
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            extra["retry_after"] = exc.wait
        body = problem(status_code=response.status_code, code=code, detail=detail, instance=instance, **extra)
    response.data = body
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def problem_response(
    request: HttpRequest, *, status_code: int, code: str, detail: str, **extra: object
) -> JsonResponse:
    """A problem details response outside DRF (middleware, URL resolution)."""
    return JsonResponse(
        problem(status_code=status_code, code=code, detail=detail, instance=request.get_full_path(), **extra),
        status=status_code,
        content_type=PROBLEM_CONTENT_TYPE,
    )


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler404: an address under /api/ that no route matches answers problem details; the rest, Django's page."""
    if request.path.startswith("/api/"):
        return problem_response(
            request, status_code=status.HTTP_404_NOT_FOUND, code="not_found",
            detail=gettext("No API endpoint at %(path)s; the schema at /api/schema/ lists them.")
            % {"path": request.path},
        )  # fmt: skip
    return defaults.page_not_found(request, exception)
