"""A local fake of OpenAI's chat-completions API (the provider boundary), on loopback, for the real `openai` SDK
in synchronous code (Celery tasks). It records each request's JSON body and answers from a script:
`reply(content)` a completion carrying `content`, `error(status)`, or `held()` — answered only when the fake
stops, so the client's own timeout ends the request however slow the machine is."""

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Scripted:
    status: int
    body: dict
    held: bool = False


def completion(
    content: str, *, prompt_tokens: int = 120, completion_tokens: int = 40, refusal: str | None = None
) -> dict:
    return {
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                     "message": {"role": "assistant", "content": content, "refusal": refusal}}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }  # fmt: skip


@dataclass
class FakeOpenAI:
    server: ThreadingHTTPServer
    requests: list[dict] = field(default_factory=list)
    script: list[Scripted] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def reply(self, content: object, **usage: int) -> "FakeOpenAI":
        text = content if isinstance(content, str) else json.dumps(content)
        self.script.append(Scripted(200, completion(text, **usage)))
        return self

    def refuse(self, why: str) -> "FakeOpenAI":
        self.script.append(Scripted(200, completion("", refusal=why)))
        return self

    def error(self, status: int, message: str = "error") -> "FakeOpenAI":
        self.script.append(Scripted(status, {"error": {"message": message, "type": "test"}}))
        return self

    def held(self) -> "FakeOpenAI":
        self.script.append(Scripted(200, completion("{}"), held=True))
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()


def start_fake_openai() -> FakeOpenAI:
    fake: FakeOpenAI

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b"{}"
            fake.requests.append({"path": self.path, **json.loads(body)})
            scripted = fake.script.pop(0) if fake.script else Scripted(500, {"error": {"message": "nothing scripted"}})
            if scripted.held:
                fake.stopping.wait()
            data = json.dumps(scripted.body).encode()
            try:
                self.send_response(scripted.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    fake = FakeOpenAI(server=server)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    return fake
