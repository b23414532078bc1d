"""What an organisation's office directory shows live: each office's opening status with its
figures (waiting, seats, free), a read model built in a fixed number of queries per office."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone, translation

from buergerbuero.offices.models import Office
from buergerbuero.offices.services import offices_with_hours, overviews
from buergerbuero.orgs.models import Organization
from buergerbuero.waiting.services import live_figures


def status(organization: Organization, language: str, now: dt.datetime | None = None) -> dict[str, Any]:
    """The directory socket's snapshot, its labels in ``language`` (the page's)."""
    offices = offices_with_hours(Office.objects.filter(organization=organization))
    now = now or timezone.now()
    with translation.override(language):
        return {
            "type": "status",
            "offices": [
                {**item.as_json(), **live_figures.office_live(item.office, now).as_json()}
                for item in overviews(offices, now)
            ],
        }
