"""The history of staff presence: one ``PresencePeriod`` per stretch of a state.

``set_presence`` (and so the expiry of absent consoles) records every change here. Offline is
the absence of a period. Periods are staff data: they go with the retention period of
consultations, and only for days the statistics have already aggregated (the caller — the
statistics job — makes sure of that before pruning).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone

from buergerbuero.staff.models import StaffMember
from buergerbuero.waiting.models import PresencePeriod, PresenceState


def record(member: StaffMember, state: str, now: dt.datetime) -> None:
    """Close the member's open period and open one for ``state`` (none for offline).
    Called inside the transaction that holds the member's presence lock."""
    PresencePeriod.objects.filter(member=member, ended_at__isnull=True).update(ended_at=now)
    if state != PresenceState.OFFLINE:
        PresencePeriod.objects.create(member=member, state=state, started_at=now)


def retention_cutoff(now: dt.datetime | None = None) -> dt.datetime:
    return (now or timezone.now()) - dt.timedelta(days=settings.CONSULTATION_RETENTION_DAYS)


def prune(now: dt.datetime | None = None) -> int:
    """Delete periods that ended before the retention cutoff."""
    deleted, _detail = PresencePeriod.objects.filter(ended_at__lt=retention_cutoff(now)).delete()
    return deleted
