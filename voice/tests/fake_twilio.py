"""A local fake of Twilio's REST API (the provider boundary), on loopback, for the real `twilio` SDK.

It records every request (method, path, form fields in order, repeated ones kept) and answers from
a script of responses, else like Twilio would for a successful request. A scripted response can be held
back until the fake stops, so a client's timeout is what ends the request, however slow the machine.
The `fake_twilio` fixture (the top-level conftest.py) starts one per test.
"""

import json
import threading
import urllib.parse
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Recorded:
    method: str
    path: str
    form: list[tuple[str, str]]

    def values(self, name: str) -> list[str]:
        return [value for key, value in self.form if key == name]

    def value(self, name: str) -> str:
        (only,) = self.values(name)
        return only


@dataclass
class Scripted:
    status: int
    body: dict
    held: bool = False  # answered only when the fake stops: the client has given up by then


@dataclass
class FakeTwilio:
    server: ThreadingHTTPServer
    requests: list[Recorded] = field(default_factory=list)
    script: list[Scripted] = field(default_factory=list)
    call_status: dict = field(default_factory=dict)  # what GET /Calls/<sid>.json answers
    recordings: dict = field(default_factory=dict)  # recording sid → the bytes GET /Recordings/<sid>.mp3 answers
    stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def then(self, status: int, body: dict | None = None, *, held: bool = False) -> "FakeTwilio":
        self.script.append(Scripted(status, body or {}, held))
        return self

    def error(self, status: int, code: int, message: str = "error") -> "FakeTwilio":
        return self.then(status, {"code": code, "message": message, "status": status})

    def stop(self) -> None:
        self.stopping.set()  # releases any held response
        self.server.shutdown()
        self.server.server_close()


def call_resource(sid: str, **fields: object) -> dict:
    return {
        "sid": sid,
        "account_sid": "AC" + "1" * 32,
        "status": "queued",
        "duration": None,
        "answered_by": None,
        "price": None,
        "price_unit": "USD",
        **fields,
    }


def start_fake_twilio() -> FakeTwilio:
    fake: FakeTwilio

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            path = urllib.parse.urlsplit(self.path).path
            fake.requests.append(Recorded(self.command, path, urllib.parse.parse_qsl(body, keep_blank_values=True)))
            if self.command == "GET" and path.endswith(".mp3"):
                audio = fake.recordings.get(path.rsplit("/", 1)[-1].removesuffix(".mp3"))
                self._send(200 if audio is not None else 404, audio or b"", "audio/mpeg")
                return
            if self.command == "DELETE" and not fake.script:
                self._send(204, b"", "application/json")
                return
            if fake.script:
                scripted = fake.script.pop(0)
                if scripted.held:
                    fake.stopping.wait()
                status, payload = scripted.status, scripted.body
            elif self.command == "POST" and path.endswith("/Calls.json"):
                status, payload = 201, call_resource("CA" + uuid.uuid4().hex)
            else:
                sid = path.rsplit("/", 1)[-1].removesuffix(".json")
                status, payload = 200, call_resource(sid, **fake.call_status)
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

        def _send(self, status: int, data: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _handle

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    fake = FakeTwilio(server=server)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    return fake
