"""A test client that sends requests through the project's ASGI application, as uvicorn would.

Twilio's webhooks are served on a short ASGI path (`calls.webhook_asgi`) that Django's test
`Client` never enters, so their tests post through `config.asgi.application` instead. Tests stay
synchronous: `async_to_sync` runs the view's thread-sensitive database work back on the calling test
thread, so it sees (and is rolled back with) the test's transaction, like the Django client's.
"""

import urllib.parse
from dataclasses import dataclass, field

from asgiref.sync import async_to_sync
from channels.testing import HttpCommunicator


@dataclass
class AsgiResponse:
    status_code: int
    content: bytes
    headers: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> str:
        return self.headers[name.lower()]


class AsgiClient:
    """`post`/`get` like Django's test client: form data, and `HTTP_*` keyword arguments as headers."""

    def __init__(self, host: str = "testserver") -> None:
        self.host = host

    def post(self, path: str, data: dict | None = None, *, body: bytes | None = None, **extra: str) -> AsgiResponse:
        if body is None:
            body = urllib.parse.urlencode(data or {}).encode()
        headers = {"content-type": "application/x-www-form-urlencoded", **self._headers(extra)}
        return self.request("POST", path, body, headers)

    def get(self, path: str, **extra: str) -> AsgiResponse:
        return self.request("GET", path, b"", self._headers(extra))

    def request(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> AsgiResponse:
        from config.asgi import application

        headers = {"host": self.host, "content-length": str(len(body)), **headers}
        communicator = HttpCommunicator(
            application, method, path, body=body, headers=[(k.encode(), v.encode()) for k, v in headers.items()]
        )
        communicator.scope["server"] = ("testserver", 80)
        response = async_to_sync(communicator.get_response)(timeout=10)
        return AsgiResponse(
            status_code=response["status"],
            content=response["body"],
            headers={name.decode().lower(): value.decode() for name, value in response["headers"]},
        )

    @staticmethod
    def _headers(extra: dict[str, str]) -> dict[str, str]:
        return {name[5:].lower().replace("_", "-"): value for name, value in extra.items() if name.startswith("HTTP_")}
