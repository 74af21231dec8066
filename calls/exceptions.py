"""Errors of the calls app that carry a message for the person who asked."""


class SteeringError(Exception):
    """A supervisor's action on a live call cannot be carried out; the message says why, in words."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
