"""What every notification channel implements, and how it reports failure.

A temporary failure (the mail server is down, the gateway answers 503) is tried again later
with backoff; a permanent one (the address does not exist, the gateway refuses the number)
is not, and shows as failed in the admin at once.
"""

from __future__ import annotations

from typing import Protocol

from buergerbuero.notify.models import Notification


class DeliveryError(Exception):
    permanent = False


class TemporaryFailure(DeliveryError):
    pass


class PermanentFailure(DeliveryError):
    permanent = True


class Transport(Protocol):
    def send(self, notification: Notification) -> None:
        """Deliver the message or raise a DeliveryError."""
