"""`Idempotency-Key` on the API's POSTs: a repeat gets the first answer and changes nothing twice.

How: before the view runs, a row (credential, key) is inserted in the same transaction as the view's own
writes, under a unique constraint. A repeat that arrives while the first is still running waits on that
constraint in the database until the first commits, then finds the stored answer and replays it; if the
first rolled back (a 5xx), the repeat runs as a first request. No lock-free check-then-act: the database
decides who is first. Keys are per credential (token or session user), so two integrations never collide.

What is replayed: every answer below 500 except those that say "try again" (401, 403, 409, 429) —
those are not stored and the key stays free. A key sent again with another method, path or body is a
422. For a multipart upload the body is not compared (it is not read into memory here): its size is.
"""

import datetime
import hashlib
from collections.abc import Callable

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext

from campaigns.integrations.models import IdempotencyRecord
from campaigns.integrations.problems import problem_response

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
NOT_STORED = frozenset({401, 403, 409, 423, 429})
KEPT_HEADERS = ("Location", "Retry-After")


def credential_owner(request: HttpRequest) -> str | None:
    """Whose key this is: a hash of the Authorization header, or the session's user; None without either
    (the view then answers 401 and nothing is stored)."""
    authorization = request.headers.get("Authorization")
    if authorization:
        return hashlib.sha256(authorization.encode()).hexdigest()
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return hashlib.sha256(f"session-user:{user.pk}".encode()).hexdigest()
    return None


def request_fingerprint(request: HttpRequest) -> str:
    digest = hashlib.sha256(f"{request.method}\n{request.get_full_path()}\n".encode())
    if request.content_type == "multipart/form-data":
        digest.update(f"multipart:{request.headers.get('Content-Length', '')}".encode())
    else:
        digest.update(request.body)
    return digest.hexdigest()


def replay(record: IdempotencyRecord) -> HttpResponse:
    response = HttpResponse(
        bytes(record.response_body), status=record.status_code, content_type=record.response_content_type or None
    )
    for name, value in record.response_headers.items():
        response[name] = value
    response[REPLAYED_HEADER] = "true"
    return response


def idempotency_records_purge(*, now: datetime.datetime | None = None) -> int:
    """Forget keys older than IDEMPOTENCY_KEY_TTL_HOURS (a key may then be used again); return how many."""
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted


class IdempotencyMiddleware:
    """Applies to POSTs under /api/ that carry an `Idempotency-Key` header; every other request passes by."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.headers.get(HEADER)
        if request.method != "POST" or key is None or not request.path.startswith("/api/"):
            return self.get_response(request)
        owner = credential_owner(request)
        if owner is None:
            return self.get_response(request)
        if not key.strip() or len(key) > MAX_KEY_LENGTH:
            detail = gettext("An %(header)s is 1 to %(max)d characters, e.g. a UUID.")
            return problem_response(
                request, status_code=400, code="invalid", detail=detail % {"header": HEADER, "max": MAX_KEY_LENGTH}
            )
        fingerprint = request_fingerprint(request)
        with transaction.atomic():
            try:
                with transaction.atomic():
                    record = IdempotencyRecord.objects.create(
                        owner=owner, key=key, method=request.method, path=request.path[:500], request_hash=fingerprint
                    )
            except IntegrityError:
                return self._repeat(request, owner, key, fingerprint)
            response = self.get_response(request)
            if response.status_code >= 500 or response.status_code in NOT_STORED or response.streaming:
                transaction.set_rollback(True)  # the view's writes and the key: a retry runs afresh
                return response
            record.status_code = response.status_code
            record.response_body = response.content
            record.response_content_type = response.get("Content-Type", "")
            record.response_headers = {name: response[name] for name in KEPT_HEADERS if response.has_header(name)}
            record.save(update_fields=["status_code", "response_body", "response_content_type", "response_headers"])
            return response

    def _repeat(self, request: HttpRequest, owner: str, key: str, fingerprint: str) -> HttpResponse:
        record = IdempotencyRecord.objects.filter(owner=owner, key=key).first()
        if record is None or record.status_code is None:
            # Only where the database does not make a repeat wait for the first (it always does on PostgreSQL).
            detail = gettext("A request with this %(header)s is still being processed; retry in a moment.")
            return problem_response(request, status_code=409, code="conflict", detail=detail % {"header": HEADER})
        if record.request_hash != fingerprint:
            return problem_response(
                request, status_code=422, code="idempotency_key_reused",
                detail=gettext(
                    "This %(header)s was used for another request (%(method)s %(path)s with another body); use a "
                    "new key for a new request."
                ) % {"header": HEADER, "method": record.method, "path": record.path},
            )  # fmt: skip
        return replay(record)
