"""Ports the rest of Callwright talks to; adapters implement them.

Everything crossing a port is a plain dataclass or string: no SDK type leaves `voice/providers/`.
Every adapter failure is one `ProviderError(message, permanent)`; `permanent` tells callers whether
trying again later can succeed (an invalid number: no; a timeout or a 5xx: maybe).
"""


class ProviderError(Exception):
    """A provider refused or failed a request.

    `permanent=True`: the same request will fail again (invalid number, unknown call, bad credentials).
    `permanent=False`: it may succeed later (rate limit, timeout, 5xx); for a call *placement* it also
    means the outcome is unknown — the provider may have placed the call.
    """

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
