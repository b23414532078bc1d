"""The citizen pages of the real demo data (``manage.py load_demo``) on a 360 px phone in every
language: what ``test_mobile``'s demo tests survey.

Every page a citizen of the demo can reach is listed by name (``demo_pages``): each
organisation's directory and its embedding refusal (a website it does not list); each office's
page, its "enter" page (the form, or the refusal with free times when the office is closed) and
its booking pages (services, then the free times of its first service); a time's details form, a
booked appointment and its "choose another time" page; and a walk-in through the office open
round the clock: the enter form filled in and sent, the waiting room, the call, the
consultation's pre-call check, and the closing page.

Besides the demo, a test town of long words (``LONG_WORDS``, made by ``make_long_words_town``):
an office named with a long German compound, a service with another, and office texts with a long
e-mail address and a long URL, none of which may push a 360 px page sideways.

In German and Arabic (``AXE_LANGUAGES``) each page is also checked with axe-core (WCAG 2.1 A/AA)
in the same visit: the accessibility survey of the real data, next to ``test_accessibility``'s
of every state of a made-up town.
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
from tests import factories
from tests.browser.support_a11y import axe_violations, describe_violations
from tests.browser.support_mobile import SURVEY_JS, TARGET_PX
from tests.support.live import ALWAYS_OPEN

LANGUAGES = ("de", "en", "tr", "ar", "uk", "ru")
AXE_LANGUAGES = ("de", "ar")  # axe-core per page costs ~1 s: German, and Arabic for right to left
ROUND_THE_CLOCK = ("musterstadt", "buergerservice-online")
WALK_IN = ("walk-in-waiting", "walk-in-called", "walk-in-precheck", "walk-in-done")
BOOKED = ("details", "appointment", "reschedule")
LONG_WORDS = "langenwortingen"  # the organisation of long words
LONG_OFFICE = "kfz-fahrerlaubnis"
LONG_EMAIL = "kraftfahrzeugzulassungsstelle.fahrerlaubnisbehoerde@landratsamt-langenwortingen.example.de"
LONG_URL = (
    "https://www.landratsamt-langenwortingen.example.de/buergerservice/"
    "kraftfahrzeugzulassungsangelegenheiten/fahrerlaubnisangelegenheiten/antragsformulare"
)


def _embed_refused(org: str) -> str:
    """The frame's refusal on a website the organisation does not list (its name and address)."""
    return f"embed/{org}/?origin=https://not-allowed.example"


def _office_pages(org: str, office: str) -> list[str]:
    base = f"{org}/{office}/"
    return [base, f"{base}enter/", f"{base}book/", f"{base}book/?service"]


def demo_page_names() -> list[str]:
    """The names of the demo's citizen pages (and the long words town's), in the order they
    are visited."""
    names = []
    for org in ORGANIZATIONS:
        names += [f"{org['slug']}/", _embed_refused(org["slug"])]
        for office in org["offices"]:
            names += _office_pages(org["slug"], office["slug"])
    names += [f"{LONG_WORDS}/", _embed_refused(LONG_WORDS), *_office_pages(LONG_WORDS, LONG_OFFICE)]
    return [*names, *BOOKED, *WALK_IN]


def make_long_words_town() -> None:
    """An organisation whose names and office texts are as long as real ones get."""
    organization = factories.make_org(
        LONG_WORDS, state="BW", name="Landratsamt Langenwortingen-Hochschwarzwaldkreis"
    )
    office = factories.make_office(
        organization,
        LONG_OFFICE,
        hours=ALWAYS_OPEN,
        name="Kraftfahrzeugzulassungs- und Fahrerlaubnisangelegenheiten",
        observes_public_holidays=False,
        description=(
            "Zuständig für Kraftfahrzeugzulassungsbescheinigungen und Fahrerlaubnisumschreibungen. "
            f"Schreiben Sie an {LONG_EMAIL} oder lesen Sie {LONG_URL}."
        ),
        waiting_area_text=f"Unterlagen: {LONG_URL} — Fragen an {LONG_EMAIL}",
        checklist="Zulassungsbescheinigung Teil I (Fahrzeugschein)\nVersicherungsbestätigungsnummer",
    )
    factories.make_service(office, "Kraftfahrzeugzulassungsbescheinigungsumschreibung")


@dataclass(frozen=True)
class DemoTown:
    paths: dict[str, str]  # page name -> path, for the pages opened directly


def load_demo_town(now: dt.datetime) -> DemoTown:
    """Loads the demo and books one appointment in the round-the-clock office."""
    call_command("load_demo", verbosity=0)
    make_long_words_town()
    paths: dict[str, str] = {}
    for office in Office.objects.select_related("organization").prefetch_related("services"):
        base = f"{office.organization.slug}/{office.slug}/"
        paths[f"{office.organization.slug}/"] = f"/{office.organization.slug}/"
        paths[_embed_refused(office.organization.slug)] = "/" + _embed_refused(office.organization.slug)
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
    slugs = [org["slug"] for org in ORGANIZATIONS] + [LONG_WORDS]
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
    """One page's width on the phone (and what axe-core finds there, where it ran)."""

    url: str
    lang: str
    scroll_width: int
    inner_width: int
    overflowing: list[str]
    axe_checked: bool = False  # axe-core ran on the page
    axe: tuple[str, ...] = ()  # what it found, readably


def measure_width(page: Any, *, with_axe: bool = False) -> Width:
    """The page's width on the phone; ``with_axe``: also what axe-core finds (WCAG 2.1 AA)."""
    found: dict[str, Any] = page.evaluate(SURVEY_JS, TARGET_PX)
    axe = tuple(describe_violations(str(page.url), axe_violations(page))) if with_axe else ()
    return Width(
        url=str(page.url),
        lang=str(found["lang"]),
        scroll_width=int(found["scrollWidth"]),
        inner_width=int(found["innerWidth"]),
        overflowing=list(found["overflowing"]),
        axe_checked=with_axe,
        axe=axe,
    )
