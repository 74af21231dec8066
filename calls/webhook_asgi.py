"""Twilio's webhooks on a short ASGI path: the same views, without Django's per-request machinery.

Status callbacks are most of a campaign's HTTP traffic (four or more per call, in bursts when calls
end together), and Django's ASGI request cycle costs more than the callback's own work: a new
executor thread per request, the request signals, and each sync middleware run through its own
`sync_to_async` hop. `TwilioWebhookRouter` takes the requests whose URL resolves to a view marked by
`calls.webhooks.twilio_webhook` and runs that view directly on a small pool of threads that keep
their database connections (`WEBHOOK_THREADS`, so one callback's round trips to PostgreSQL overlap
another's); everything else, and every URL that does not resolve, goes to Django's handler unchanged.
In one run of `make bench ONLY=webhooks` the same minimal status view cost daphne 5.1–6.4 ms of CPU
a request through Django's cycle and 2.4–2.6 ms on this path.

What the short path keeps: the view itself does everything a webhook needs (POST only, signature
check against the public URL, host check through `build_absolute_uri`, form validation, one service
call, metrics); an exception becomes Django's own 500 response and is logged on `django.request`; a
body over `DATA_UPLOAD_MAX_MEMORY_SIZE` is refused with 413 before it is read whole. What it leaves
out, on purpose: the middleware (sessions, CSRF, auth, messages and clickjacking headers mean nothing
to a carrier's server-to-server POST) and the per-request connection close. Each thread keeps its
database connection between requests and closes it only after a database error went through it.

`WEBHOOK_THREADS = 0` runs the views thread-sensitively instead: on the thread of a sync caller
waiting in `async_to_sync` (the tests, whose transaction the view must see), else on asgiref's one
sync thread.
"""

import asyncio
import contextvars
import functools
import io
import logging
import os
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qsl

from asgiref.sync import SyncToAsync, sync_to_async
from django.conf import settings
from django.core.exceptions import TooManyFieldsSent
from django.core.handlers.asgi import ASGIRequest, get_script_prefix
from django.core.handlers.exception import response_for_exception
from django.db import connections
from django.http import HttpResponse, QueryDict
from django.urls import Resolver404, ResolverMatch, URLResolver, get_resolver, set_script_prefix
from django.utils.datastructures import MultiValueDict

from monitoring.metrics import WEBHOOK_SECONDS

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LEAN_ATTRIBUTE = "served_without_middleware"


class BodyTooLarge(Exception):
    """The request body is larger than DATA_UPLOAD_MAX_MEMORY_SIZE."""


class ClientGone(Exception):
    """The client disconnected before its body arrived."""


class TwilioWebhookRouter:
    """ASGI: Twilio's webhook views on the short path, every other HTTP request to `django_app`."""

    def __init__(self, django_app: ASGIApp, prefix: str = "/twilio/") -> None:
        self.django_app = django_app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = self._webhook_match(scope)
        if match is None:
            await self.django_app(scope, receive, send)
            return
        try:
            body = await read_body(receive, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        except ClientGone:
            return
        except BodyTooLarge:
            await send_response(send, HttpResponse("request body too large", status=413, content_type="text/plain"))
            return
        started = time.perf_counter()
        response = await run_view()(scope, body, match)
        await send_response(send, response)
        WEBHOOK_SECONDS.labels(view=match.url_name or "").observe(time.perf_counter() - started)

    def _webhook_match(self, scope: Scope) -> ResolverMatch | None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            return None
        return lean_match(get_resolver(), scope["path"])


@functools.lru_cache(maxsize=4096)
def lean_match(resolver: URLResolver, path: str) -> ResolverMatch | None:
    """What `resolver` resolves `path` to if that is a short-path view, else None.

    Cached: every status callback of a call comes to the same URL (four or more per call), and
    resolving through the project's URLconf was 5% of a callback's CPU. Keyed by the resolver, which
    Django rebuilds when the URLconf changes (`clear_url_caches`), so a stale match cannot be served;
    a ResolverMatch is never changed after it is made, so requests can share one.
    """
    try:
        match = resolver.resolve(path)
    except Resolver404:
        return None  # Django's handler answers with its own 404 page
    return match if getattr(match.func, LEAN_ATTRIBUTE, False) else None


@functools.cache
def _executor(threads: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="webhook")


def run_view() -> Callable[..., Awaitable[HttpResponse]]:
    """`respond` as an awaitable, on the webhook threads (or thread-sensitively when WEBHOOK_THREADS = 0)."""
    threads = settings.WEBHOOK_THREADS
    if threads <= 0:
        return _respond_thread_sensitively()
    return functools.partial(_respond_on_pool, _executor(threads))


@functools.cache
def _respond_thread_sensitively() -> Callable[..., Awaitable[HttpResponse]]:
    # Made once: building a SyncToAsync (functools.update_wrapper and all) was 1.5% of the process's CPU.
    return sync_to_async(respond, thread_sensitive=True)


async def _respond_on_pool(executor: ThreadPoolExecutor, *request: Any) -> HttpResponse:
    """`respond` on a pool thread, handed over by the loop's own `run_in_executor`.

    Not `sync_to_async`: besides what is kept here, it re-homes asgiref's Locals into the worker and
    back and shields the future, which with the rest cost 7% of a callback's CPU. What is kept: the
    view runs in a copy of the request's context (so an `activate()` of a language or time zone in one
    request never leaks into the next on the same thread), and the worker is told the server's loop,
    so an `async_to_sync` inside the view (a channel-layer publish) runs there rather than on a loop
    of its own. If the request is cancelled, the view still runs to its end on the pool thread; only
    the answer is not sent.
    """
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()
    return await loop.run_in_executor(executor, _respond_in_worker, loop, context, *request)


def _respond_in_worker(loop: asyncio.AbstractEventLoop, context: contextvars.Context, *request: Any) -> HttpResponse:
    """On a pool thread: `respond` in `context`, with asgiref told which loop is the server's."""
    SyncToAsync.threadlocal.main_event_loop = loop
    SyncToAsync.threadlocal.main_event_loop_pid = os.getpid()
    return context.run(respond, *request)


async def read_body(receive: Receive, limit: int | None) -> bytes:
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if limit is not None and size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


def respond(scope: Scope, body: bytes, match: ResolverMatch) -> HttpResponse:
    """Run the matched view as Django's handler would, minus middleware and request signals."""
    set_script_prefix(get_script_prefix(scope))
    request = ASGIRequest(scope, io.BytesIO(body))
    request.resolver_match = match
    try:
        if request.method == "POST" and request.content_type == "application/x-www-form-urlencoded":
            request.POST = form_data(body, request.encoding or settings.DEFAULT_CHARSET)
            request._files = MultiValueDict()  # as Django sets it with POST; else FILES would parse again
        response = match.func(request, *match.args, **match.kwargs)
    except Exception as error:  # Django's own handler turns any exception into a logged 500, so do we
        response = response_for_exception(request, error)
    finally:
        release_broken_connections()
    return response


def form_data(body: bytes, encoding: str) -> QueryDict:
    """The QueryDict Django makes of a urlencoded POST body (`QueryDict(body)`), built in one pass.

    Same fields in the same order, the same decoding (falling back to ISO-8859-1 as Django does), and
    the same limit (more than DATA_UPLOAD_MAX_NUMBER_FIELDS raises TooManyFieldsSent, a 400). Django
    stores each field through `appendlist` (four calls and two text conversions a field): 95 µs of a
    status callback's ~780 µs of view CPU, where this takes less than half of that.
    """
    try:
        text = body.decode(encoding)
    except UnicodeDecodeError:
        text = body.decode("iso-8859-1")
    try:
        pairs = parse_qsl(
            text, keep_blank_values=True, encoding=encoding, max_num_fields=settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        )
    except ValueError as error:
        raise TooManyFieldsSent(
            "The number of GET/POST parameters exceeded settings.DATA_UPLOAD_MAX_NUMBER_FIELDS."
        ) from error
    fields: dict[str, list[str]] = {}
    for name, value in pairs:
        fields.setdefault(name, []).append(value)
    form = QueryDict(mutable=True, encoding=encoding)
    dict.update(form, fields)  # a MultiValueDict is a dict of value lists: what appendlist builds
    form._mutable = False  # as QueryDict(body) leaves it: immutable
    return form


def release_broken_connections() -> None:
    """Close any connection a database error went through, so the next request opens a fresh one.

    Stricter than `close_if_unusable_or_obsolete`, which asks `is_usable()` (always true on SQLite):
    errors are rare, and a reconnect from the pool is cheap beside serving on a broken connection.
    Integrity and data errors do not count (Django does not flag them): the connection is fine.
    """
    for connection in connections.all(initialized_only=True):
        if connection.errors_occurred:
            connection.close()


async def send_response(send: Send, response: HttpResponse) -> None:
    headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in response.items()]
    for cookie in response.cookies.values():
        headers.append((b"set-cookie", cookie.output(header="").strip().encode("latin-1")))
    body = response.content
    if not response.has_header("Content-Length"):
        headers.append((b"content-length", str(len(body)).encode("ascii")))
    await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})
