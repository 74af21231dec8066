"""A bare ASGI callable (no Django): the ceiling the server itself sets on this machine.

Served like the project (`config.server --app=bench.bare_asgi:served`): same uvicorn options, same
interpreter settings.
"""

from config.server import tune_interpreter


async def application(scope: dict, receive, send) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 204, "headers": [(b"content-length", b"0")]})
    await send({"type": "http.response.body", "body": b""})


def served():
    """The application factory config.server runs: this app, in an interpreter tuned as the project's is."""
    tune_interpreter()
    return application
