"""The one error type of the services: a refusal a user may read.

A service that refuses a request raises a subclass of :class:`ServiceError` with ``message``
already translated into the user's language (views and consumers show it as it is, no stack
trace reaches a citizen) and a stable ``code`` for programs (the read API, tests, the
console's scripts). Subclasses name their app's refusals (``BookingError``, ``HoursError``,
``QueueError``) so a caller can catch only the ones it expects.
"""

from __future__ import annotations


class ServiceError(Exception):
    """A request a service refuses; ``message`` is for the user, already translated."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
