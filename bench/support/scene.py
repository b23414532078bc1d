"""The office the live benches measure: open whatever the day, so that a run never meets a
closing time, a weekend or a public holiday."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from buergerbuero.offices.models import Office


def open_office(slug: str, name: str, **fields: Any) -> Office:
    """An office of the town "Benchstadt", open all day today and tomorrow (local time, as
    special openings), with its queue state."""
    from django.utils import timezone

    from buergerbuero.offices.models import MIDNIGHT, Office, SpecialOpening
    from buergerbuero.orgs.models import Organization
    from buergerbuero.waiting.models import QueueState

    org = Organization.objects.create(slug="benchstadt", name="Benchstadt", state="BY")
    office = Office.objects.create(organization=org, slug=slug, name=name, **fields)
    today = timezone.localdate(timezone.now(), org.zone)
    for day in (today, today + dt.timedelta(days=1)):
        SpecialOpening.objects.create(office=office, date=day, opens=MIDNIGHT, closes=dt.time(12, 0))
        SpecialOpening.objects.create(office=office, date=day, opens=dt.time(12, 0), closes=MIDNIGHT)
    QueueState.objects.create(office=office)
    return office
