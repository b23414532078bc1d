"""The demo's events in Musterstadt: consultation hours that are live now (a newcomer can join
at once, on the office open around the clock) and two upcoming events with registration."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from buergerbuero.events.models import Event, EventKind, EventStatus, StageRole, StageSeat, Visibility
from buergerbuero.events.services import new_token
from buergerbuero.offices.models import Office
from buergerbuero.orgs.models import Organization
from buergerbuero.staff.models import StaffMember

LIVE_OFFICE = "buergerservice-online"  # open around the clock: the live queue works at any hour


def add_demo_events(
    organization: Organization, offices: dict[str, Office], now: dt.datetime | None = None
) -> None:
    now = now or timezone.now()
    zone = organization.zone
    hosts = {
        member.user.username: member
        for member in StaffMember.objects.filter(organization=organization).select_related("user")
    }
    mayor = hosts.get("weber")
    tomorrow = (now.astimezone(zone) + dt.timedelta(days=1)).date()
    evening = dt.datetime.combine(tomorrow, dt.time(18, 0), tzinfo=zone)
    events: list[tuple[str, dict[str, Any]]] = [
        (
            "Digitale Bürgersprechstunde",
            {
                "kind": EventKind.CONSULTATION_HOURS,
                "office": offices.get(LIVE_OFFICE),
                "description": (
                    "Stellen Sie Ihre Frage live: Reihen Sie sich ein, und wenn Sie an der Reihe sind, "
                    "holt die Moderation Sie auf die Bühne. Fragen und Chat gehen auch schriftlich. "
                    "Keine Aufzeichnung."
                ),
                "starts_at": now - dt.timedelta(minutes=10),
                "ends_at": now + dt.timedelta(days=1),
                "languages": "de,en",
                "status": EventStatus.LIVE,
                "went_live_at": now - dt.timedelta(minutes=10),
            },
        ),
        (
            "Informationsabend Neubaugebiet „Am Mühlbach“",
            {
                "kind": EventKind.PUBLIC_EVENT,
                "office": offices.get("bauamt"),
                "description": "Das Bauamt stellt den Bebauungsplan vor und beantwortet Ihre Fragen.",
                "starts_at": evening,
                "ends_at": evening + dt.timedelta(minutes=90),
                "registration_required": True,
                "capacity": 300,
            },
        ),
        (
            "Pressekonferenz: Haushalt 2027",
            {
                "kind": EventKind.PRESS_CONFERENCE,
                "description": (
                    "Akkreditierte Journalistinnen und Journalisten stellen Fragen; "
                    "die Öffentlichkeit sieht zu."
                ),
                "starts_at": evening + dt.timedelta(days=2, hours=-7),
                "ends_at": evening + dt.timedelta(days=2, hours=-6),
                "registration_required": True,
            },
        ),
    ]
    for title, fields in events:
        event, _created = Event.objects.update_or_create(
            organization=organization,
            title=title,
            defaults={"visibility": Visibility.PUBLIC, **fields},
            create_defaults={"link_token": new_token(), "visibility": Visibility.PUBLIC, **fields},
        )
        if mayor is not None:
            event.hosts.set([mayor])
            if event.status == EventStatus.LIVE:
                StageSeat.objects.get_or_create(
                    event=event, member=mayor, defaults={"role": StageRole.HOST, "since": now}
                )
