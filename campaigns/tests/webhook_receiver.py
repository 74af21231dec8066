"""A webhook receiver on loopback for tests: records every request, answers from a script of status codes."""

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    answered: int


@dataclass
class Receiver:
    server: ThreadingHTTPServer
    answers: list[int]  # status codes to answer in turn; the last one repeats
    received: list[Received] = field(default_factory=list)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hooks"

    @property
    def accepted(self) -> list[Received]:
        return [request for request in self.received if 200 <= request.answered < 300]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_receiver(answers: list[int]) -> Receiver:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                index = min(len(receiver.received), len(receiver.answers) - 1)
                code = receiver.answers[index]
                receiver.received.append(Received(dict(self.headers.items()), body, code))
            self.send_response(code)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = Receiver(server, answers)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return receiver


def receiving(answers: list[int]) -> Iterator[Receiver]:
    receiver = start_receiver(answers)
    yield receiver
    receiver.stop()
