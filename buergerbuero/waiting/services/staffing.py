"""An agent's presence (available, busy, pause, offline): a change tells every office the
agent serves its new figures and is kept for the statistics; a closed console goes offline."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from buergerbuero.staff.models import StaffMember
from buergerbuero.staff.services import offices_served
from buergerbuero.waiting import presence_history
from buergerbuero.waiting.models import (
    AgentPresence,
    PresenceState,
)
from buergerbuero.waiting.services import errors, seating, sequence


def set_presence(agent: StaffMember, state: str, now: dt.datetime | None = None) -> AgentPresence:
    if state not in PresenceState.values:
        raise errors.QueueError(_("Unknown presence state."), "bad_state")
    now = now or timezone.now()
    with transaction.atomic():
        presence = seating.lock_presence(agent, now)
        if state != PresenceState.BUSY and seating.has_active_call(agent) and state != PresenceState.OFFLINE:
            state = PresenceState.BUSY  # the seat stays taken until the consultation ends
        if presence.state != state:
            AgentPresence.objects.filter(pk=presence.pk).update(state=state, changed_at=now, last_seen_at=now)
            presence_history.record(agent, state, now)  # staffed minutes and pauses for the statistics
            for office in offices_served(agent):
                sequence.live_event(office)
        presence.refresh_from_db()
    return presence


def mark_absent_agents_offline(now: dt.datetime | None = None, grace_seconds: int = 45) -> int:
    """A closed console frees its seat after a short grace (not while in a consultation)."""
    now = now or timezone.now()
    absent = AgentPresence.objects.filter(
        state__in=[PresenceState.AVAILABLE, PresenceState.PAUSE],
        last_seen_at__lt=now - dt.timedelta(seconds=grace_seconds),
    ).select_related("member")
    count = 0
    for presence in absent:
        set_presence(presence.member, PresenceState.OFFLINE, now)
        count += 1
    return count
