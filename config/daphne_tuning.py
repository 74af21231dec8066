"""Per-message costs of daphne's layers (autobahn, Twisted's HTTP request), removed without changing what it does.

Twilio's media stream is 50 messages a second in and as many out, per call; with 100 calls that is
10,000 messages a second through autobahn. Measured per inbound+outbound message pair on the same core
(bench/voice_calls notes, an echo app on daphne): 77 µs as shipped, 50 µs with both changes — what
uvicorn's websockets stack costs for the same pair. Nothing here changes framing, the unmasked bytes,
UTF-8 validation or the ASGI messages daphne hands to Channels.

1. Debug-log arguments. autobahn (26.10) logs every received packet and every sent frame at debug level
   and builds the arguments first — `hltype(self.dataReceived)`, `hlval(self.peer)`, … — each a
   `click.style()` call, whether or not debug logging is on: ~7 µs per call site, two per message pair.
   The module-level `hltype`/`hlval` that those log calls use are replaced by lazy ones that format the
   very same text only when a log line is actually written.
2. The per-message observer event. After `onMessage`, autobahn fires a "message" event for its `.on()`
   observers and attaches an errback to the result — a Deferred created and resolved per message even
   when nobody observes (daphne never does). Daphne's protocol fires it only when an observer exists.
3. Unmasking each client frame. With its native (NVX) extension, autobahn builds a cffi masker object per
   received frame (an import, `ffi.new`, `ffi.gc`, three C calls) and copies the payload through a cffi
   buffer: 17.5 µs for a 330-byte media message, against 2.3 µs for XOR-ing the payload as one integer
   with the repeated key (timeit, same machine) — at 100 calls, 5,000 frames a second, ~8% of a core.
   Frames up to 64 KiB are unmasked that way (same bytes, checked against autobahn's masker for every
   split of a frame in config/tests); larger ones still go to autobahn's SIMD masker.
4. A second parse of every form POST. Twisted's HTTP `Request` parses a form body into `request.args`
   before handing the request on, and finds its Content-Type through the `email` package's header
   registry: 140 µs a request on this machine, for every Twilio callback, and daphne never reads
   `args` (the ASGI app gets the raw body and Django parses it). Twisted has a switch for exactly this,
   `Request(parsePOSTFormSubmission=False)`; daphne's `WebRequest` is made with it.

5. A loop turn and two `epoll_ctl` calls per frame sent. Twisted's TCP transport never sends in
   `write()`: it buffers the bytes, registers the socket for writability (`add_writer`), sends on the
   next turn of the loop and unregisters it (`remove_writer`). asyncio's own transports, which uvicorn
   uses, send at once and register only what the kernel did not take. With nothing already waiting in
   Twisted's buffer (so the order of bytes cannot change) and no TLS, `write()` now sends at once too
   and hands only an unsent rest, or an error, to Twisted's buffered path, which deals with it as
   before.
6. An access-log line nobody reads. After every response Twisted's `HTTPFactory.log` formats a Combined
   Log Format line (client address, headers, quoting) and writes it to Twisted's global log; at
   daphne's default verbosity (1 or less) daphne routes that log to an observer that drops everything,
   so each request paid ~70 µs (4% of a status callback's CPU in py-spy) for a line that went nowhere.
   The line is now built only when daphne's verbosity sends Twisted's log to Python logging (2 or
   more). Daphne's own access log (`--access-log`) is a separate path and is unchanged.
7. Finished requests kept for up to a second. Daphne forgets a connection (its request, scope, task,
   queue, headers) only in `application_checker`, which runs once a second; at 500 callbacks a second
   that kept ~250–500 finished requests alive, so every young-generation collection found them still
   alive and promoted them, and the promotions set off collections of the older generations: 0.1 ms of
   garbage collection per request and 15–50 ms stops of the event loop (gc callbacks, `make bench
   ONLY=webhooks` load). None of it was garbage (DEBUG_SAVEALL found no cycle). A connection whose
   application has finished after it disconnected is now forgotten at once, with what the checker
   would do for it (the application's exception logged on `daphne.server`); the checker still runs
   for everything else (timeouts, applications that outlive their connection).
8. A deprecation proxy on every call into Twisted's HTTP request. `twisted.web.http` is a module proxy
   (it warns when a deprecated name is read), so each `http.Request.write/finish/__init__` that daphne's
   request makes goes through the proxy's Python `__getattribute__`: ~2% of a status callback's CPU in
   py-spy. Daphne's module is given the module itself; daphne reads none of the deprecated names.

`apply()` is idempotent and is called from `config.asgi`, which daphne serves (`daphne` is an installed
app, so its server module is loaded whichever server imports the project).
"""

import functools
import logging
from typing import Any

_APPLIED = False


class _Lazy:
    """Formats as `function(argument)` does, but only when a log line is rendered."""

    __slots__ = ("_argument", "_function", "_keywords")

    def __init__(self, function: Any, argument: Any, keywords: dict) -> None:
        self._function, self._argument, self._keywords = function, argument, keywords

    def __str__(self) -> str:
        return self._function(self._argument, **self._keywords)

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def _lazy(function: Any) -> Any:
    def deferred(argument: Any, **keywords: Any) -> _Lazy:
        return _Lazy(function, argument, keywords)

    deferred.__name__ = deferred.__qualname__ = f"lazy_{function.__name__}"
    return deferred


def _on_message_end(self: Any) -> None:
    """autobahn's `WebSocketProtocol.onMessageEnd`, firing the "message" event only when observed."""
    if not self.failedByMe:
        payload = b"".join(self.message_data)
        if self.trackedTimings:
            self.trackedTimings.track("onMessage")
        self._onMessage(payload, self.message_is_binary)
        if self._listeners or self._parent is not None:
            _fire_message(self, payload)
    self.message_data = None


def _fire_message(protocol: Any, payload: bytes) -> None:
    import txaio

    def error(failure: Any) -> None:
        protocol.log.error("Firing signal 'message' failed: {fail}", fail=failure)

    txaio.add_callbacks(protocol.fire("message", payload, is_binary=protocol.message_is_binary), None, error)


def _without_form_parsing(init: Any) -> Any:
    @functools.wraps(init)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("parsePOSTFormSubmission", False)
        init(self, *args, **kwargs)

    return __init__


class IntXorMasker:
    """autobahn's masker interface (`process`, `pointer`, `reset`): the payload XOR-ed with the 4-byte key
    as one big integer (C loops in `int.from_bytes`/`to_bytes`), continuing the key where the previous
    piece of the same frame stopped."""

    __slots__ = ("_mask", "_ptr")

    def __init__(self, mask: bytes) -> None:
        self._mask, self._ptr = bytes(mask), 0

    def pointer(self) -> int:
        return self._ptr

    def reset(self) -> None:
        self._ptr = 0

    def process(self, data: bytes) -> bytes:
        size = len(data)
        shift = self._ptr & 3
        self._ptr += size
        mask = self._mask[shift:] + self._mask[:shift] if shift else self._mask
        key = (mask * ((size >> 2) + 1))[:size]
        return (int.from_bytes(data, "little") ^ int.from_bytes(key, "little")).to_bytes(size, "little")


_INT_MASKER_MAX = 64 * 1024  # past this autobahn's SIMD masker is the faster one


def _masker_factory(original: Any) -> Any:
    def create_xor_masker(mask: bytes, length: int | None = None) -> Any:
        if length is not None and length <= _INT_MASKER_MAX:
            return IntXorMasker(mask)
        return original(mask, length)

    return create_xor_masker


def _sends_at_once(write: Any) -> Any:
    """`tcp.Connection.write`, sending at once when nothing is buffered (see 5 above)."""

    @functools.wraps(write)
    def send_or_buffer(self: Any, data: bytes) -> None:
        idle = not self._tempDataBuffer and self.offset == len(self.dataBuffer)
        if not (idle and data and self.connected and not self.disconnecting and not self.TLS):
            write(self, data)
            return
        if self._writeDisconnected:
            return
        sent = self.writeSomeData(data)
        if isinstance(sent, Exception) or sent < 0:
            write(self, data)  # the buffered path meets the error again in doWrite and closes as it always did
        elif sent < len(data):
            write(self, bytes(memoryview(data)[sent:]))

    return send_or_buffer


def _logged_only_when_seen(log: Any) -> Any:
    """Twisted's `HTTPFactory.log`, skipped while daphne drops Twisted's log (verbosity <= 1; see 6 above)."""

    @functools.wraps(log)
    def log_if_seen(self: Any, request: Any) -> None:
        if getattr(self.server, "verbosity", 2) > 1:
            log(self, request)

    return log_if_seen


def _unproxied(module: Any) -> Any:
    """The module behind Twisted's deprecation proxy (see 8 above), or `module` if it is not one."""
    from twisted.python.deprecate import _ModuleProxy

    return object.__getattribute__(module, "_module") if isinstance(module, _ModuleProxy) else module


def reap(server: Any, protocol: Any) -> None:
    """Forget `protocol` if it has disconnected and its application has finished (see 7 above).

    The same steps as daphne's `application_checker` for such a connection: the application's exception,
    if any, is retrieved and logged; a KeyboardInterrupt (which asks the server to stop) is left to the
    checker.
    """
    details = server.connections.get(protocol)
    if details is None or "disconnected" not in details:
        return
    instance = details.get("application_instance")
    if instance is not None:
        if not instance.done():
            return
        exception = None if instance.cancelled() else instance.exception()
        if isinstance(exception, KeyboardInterrupt):
            return
        if exception is not None:
            logging.getLogger("daphne.server").error("Exception inside application: %s", exception, exc_info=exception)
    del server.connections[protocol]


def _reaped_when_finished(create_application: Any) -> Any:
    @functools.wraps(create_application)
    def create_and_watch(self: Any, protocol: Any, scope: dict) -> Any:
        queue = create_application(self, protocol, scope)
        instance = self.connections.get(protocol, {}).get("application_instance")
        if instance is not None:
            instance.add_done_callback(lambda _: reap(self, protocol))
        return queue

    return create_and_watch


def _reaped_on_disconnect(protocol_disconnected: Any) -> Any:
    @functools.wraps(protocol_disconnected)
    def disconnected(self: Any, protocol: Any) -> None:
        if protocol not in self.connections:
            return  # already forgotten: its application had finished and it had disconnected before
        protocol_disconnected(self, protocol)
        reap(self, protocol)

    return disconnected


def _sequence_sent_at_once(self: Any, iovec: Any) -> None:
    self.write(b"".join(iovec))


def apply() -> None:
    """Install the changes into the imported autobahn, daphne and Twisted modules (once)."""
    global _APPLIED
    if _APPLIED:
        return
    import autobahn.twisted.websocket
    import autobahn.util
    import autobahn.websocket.protocol
    from daphne import http_protocol
    from daphne.http_protocol import HTTPFactory, WebRequest
    from daphne.server import Server
    from daphne.ws_protocol import WebSocketProtocol

    for module in (autobahn.twisted.websocket, autobahn.websocket.protocol):
        module.hltype = _lazy(autobahn.util.hltype)
        module.hlval = _lazy(autobahn.util.hlval)
    WebSocketProtocol.onMessageEnd = _on_message_end
    protocol = autobahn.websocket.protocol
    protocol.create_xor_masker = _masker_factory(protocol.create_xor_masker)
    WebRequest.__init__ = _without_form_parsing(WebRequest.__init__)
    from twisted.internet import tcp

    http_protocol.http = _unproxied(http_protocol.http)
    HTTPFactory.log = _logged_only_when_seen(HTTPFactory.log)
    Server.create_application = _reaped_when_finished(Server.create_application)
    Server.protocol_disconnected = _reaped_on_disconnect(Server.protocol_disconnected)
    tcp.Connection.write = _sends_at_once(tcp.Connection.write)
    tcp.Connection.writeSequence = _sequence_sent_at_once
    _APPLIED = True
