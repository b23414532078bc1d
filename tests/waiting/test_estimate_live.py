"""The waiting room tells a wait from the first citizen of a new office (no finished
consultation yet): the socket's snapshot carries a range for the citizen's position."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.utils import translation

from buergerbuero.consult.models import Consultation
from buergerbuero.offices.models import Office
from buergerbuero.staff.models import StaffMember
from buergerbuero.waiting.estimate import Wait, wait_text
from buergerbuero.waiting.models import PresenceState
from buergerbuero.waiting.services import staffing
from tests.waiting.test_consumers import agent_member, at, citizen_socket, join

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.anyio]
__all__ = ["agent_member"]  # the fixture, used by name below


async def test_a_new_office_shows_a_range_to_the_first_citizen_who_waits(
    office: Office, agent_member: StaffMember
) -> None:
    await database_sync_to_async(staffing.set_presence)(agent_member, PresenceState.AVAILABLE, at(-60))
    await join(office, 0, "Anna")  # straight in: the agent was free
    bernd = await join(office, 60, "Bernd")
    assert not await database_sync_to_async(Consultation.objects.filter(ended_at__isnull=False).exists)()

    socket, snapshot = await citizen_socket(bernd)

    assert snapshot["position"] == 1
    estimate = snapshot["live"]["estimate"]
    assert estimate is not None  # no longer "not yet known"
    low, median, high = estimate["waits"][0]
    assert 0 < low < median < high
    with translation.override("de"):
        text = wait_text(Wait(low, median, high))
    assert text.startswith("etwa ")
    assert text.endswith(" Minuten")
    await socket.disconnect()
