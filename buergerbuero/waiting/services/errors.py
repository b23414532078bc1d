"""The one refusal of the waiting room's services (a ``lib.errors.ServiceError``)."""

from __future__ import annotations

from buergerbuero.lib.errors import ServiceError


class QueueError(ServiceError):
    """A request the queue refuses."""
