"""The citizen pages of the real demo data (``manage.py load_demo``) on a 360 px phone in every
language: what ``test_mobile``'s demo tests survey.

Every page a citizen of the demo can reach is listed by name (``demo_pages``): each
organisation's directory; each office's page, its "enter" page (the form, or the refusal with
free times when the office is closed) and its booking pages (services, then the free times of
its first service); a time's details form, a booked appointment and its "choose another time"
page; and a walk-in through the office open round the clock: the enter form filled in and sent,
the waiting room, the call, the consultation's pre-call check, and the closing page.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.core.management import call_command
from django.db.models import Q

from buergerbuero.booking import services as booking
from buergerbuero.booking.models import Appointment
from buergerbuero.booking.views import details_url
from buergerbuero.demo.data import ORGANIZATIONS, PLATFORM_SUPERUSER
from buergerbuero.offices.models import Office
from buergerbuero.orgs.models import Organization
from tests.browser.support_mobile import SURVEY_JS, TARGET_PX

LANGUAGES = ("de", "en", "tr", "ar", "uk", "ru")
ROUND_THE_CLOCK = ("musterstadt", "buergerservice-online")
WALK_IN = ("walk-in-waiting", "walk-in-called", "walk-in-precheck", "walk-in-done")
BOOKED = ("details", "appointment", "reschedule")


def demo_page_names() -> list[str]:
    """The names of the demo's citizen pages, in the order they are visited."""
    names = []
    for org in ORGANIZATIONS:
        names.append(f"{org['slug']}/")
        for office in org["offices"]:
            base = f"{org['slug']}/{office['slug']}/"
            names += [base, f"{base}enter/", f"{base}book/", f"{base}book/?service"]
    return [*names, *BOOKED, *WALK_IN]


@dataclass(frozen=True)
class DemoTown:
    paths: dict[str, str]  # page name -> path, for the pages opened directly


def load_demo_town(now: dt.datetime) -> DemoTown:
    """Loads the demo and books one appointment in the round-the-clock office."""
    call_command("load_demo", verbosity=0)
    paths: dict[str, str] = {}
    for office in Office.objects.select_related("organization").prefetch_related("services"):
        base = f"{office.organization.slug}/{office.slug}/"
        paths[f"{office.organization.slug}/"] = f"/{office.organization.slug}/"
        paths[base] = f"/{base}"
        paths[f"{base}enter/"] = f"/{base}enter/"
        paths[f"{base}book/"] = f"/{base}book/"
        paths[f"{base}book/?service"] = f"/{base}book/?service={office.services.all()[0].pk}"
    office = Office.objects.get(organization__slug=ROUND_THE_CLOCK[0], slug=ROUND_THE_CLOCK[1])
    service = office.services.order_by("position")[0]
    first, later = booking.finder(office, service).next_free(2, after=now + dt.timedelta(hours=3))
    appointment = booking.book(
        office,
        service,
        start=first.start,
        contact=booking.Contact(name="Maria Muster", email="maria@example.org", consent=True),
    )
    paths["details"] = details_url(office, service, None, later)
    paths["appointment"] = f"/a/{appointment.token}/"
    paths["reschedule"] = f"/a/{appointment.token}/reschedule/"
    return DemoTown(paths=paths)


def remove_demo() -> None:
    """Deletes what ``load_demo`` wrote (the test database is shared by the modules)."""
    slugs = [org["slug"] for org in ORGANIZATIONS]
    usernames = [PLATFORM_SUPERUSER, *(staff[0] for org in ORGANIZATIONS for staff in org["staff"])]
    # Also the appointments of other test towns whose staff share a demo login name (load_demo
    # takes such a login into its organisation, whose deletion would then meet them).
    Appointment.objects.filter(
        Q(office__organization__slug__in=slugs) | Q(agent__user__username__in=usernames)
    ).delete()
    Organization.objects.filter(slug__in=slugs).delete()
    User.objects.filter(username__in=usernames).delete()


@dataclass(frozen=True)
class Width:
    """One page's width on the phone."""

    url: str
    lang: str
    scroll_width: int
    inner_width: int
    overflowing: list[str]


def measure_width(page: Any) -> Width:
    found: dict[str, Any] = page.evaluate(SURVEY_JS, TARGET_PX)
    return Width(
        url=str(page.url),
        lang=str(found["lang"]),
        scroll_width=int(found["scrollWidth"]),
        inner_width=int(found["innerWidth"]),
        overflowing=list(found["overflowing"]),
    )
