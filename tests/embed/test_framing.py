"""Who may show our pages in a frame, the way into the frame, and the embedding settings.

- ``Content-Security-Policy: frame-ancestors``: every citizen page of an organisation (the
  whole walk-in and booking flow) names ``'self'`` and the websites the organisation lists;
  staff and admin pages, including the staff member's side of a consultation, only ``'self'``.
  No ``X-Frame-Options``, which could only forbid all websites or allow all.
- ``/embed/<org>/[<office>/]``: the frame's first address. A listed website is sent on to the
  directory (or office) in the language it asked for; any other gets a 403 refusal page that
  itself may be framed anywhere (so the visitor reads why, instead of a blank box) and links
  to the direct address.
- ``/embed.js``: the snippet is JavaScript.
- The organisation's admin form checks the embedding origins and the brand colour's contrast.

Through Django's test client on a fixed clock (Thursday 10:00, the office open); the pages are
reached in the states the flow puts them in (a ticket waiting, admitted, done; an appointment).
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from buergerbuero.booking import services as booking
from buergerbuero.consult import services as consult
from buergerbuero.consult.models import Consultation
from buergerbuero.offices.models import Office, Service
from buergerbuero.orgs.models import Organization
from buergerbuero.staff.models import StaffMember
from buergerbuero.waiting.models import Mode, PresenceState
from buergerbuero.waiting.services import joining, staffing
from tests.staff.test_admin_isolation import form_data

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
THURSDAY_10 = dt.datetime(2026, 11, 26, 10, 0, tzinfo=BERLIN)
WEBSITE = "https://www.testhausen.de"
SECOND_WEBSITE = "http://localhost:8123"
CITIZEN_POLICY = f"frame-ancestors 'self' {WEBSITE} {SECOND_WEBSITE}"
STAFF_POLICY = "frame-ancestors 'self'"
CSP = "Content-Security-Policy"


@pytest.fixture
def clock() -> Iterator[Any]:
    with time_machine.travel(THURSDAY_10, tick=False) as traveller:
        yield traveller


@pytest.fixture
def website_org(org: Organization) -> Organization:
    # As an admin might type them: a trailing slash, a blank line.
    org.embed_origins = f"{WEBSITE}/\n\n{SECOND_WEBSITE}\n"
    org.save()
    return org


@pytest.fixture
def service(office: Office) -> Service:
    return Service.objects.create(office=office, name="Personalausweis", slot_minutes=30, buffer_minutes=0)


def policy(response: Response) -> str:
    """The ``frame-ancestors`` directive of the response's one Content-Security-Policy."""
    (directive,) = [part.strip() for part in str(response[CSP]).split(";") if "frame-ancestors" in part]
    return directive


# --- which pages may be framed by whom ------------------------------------------------------------
@dataclass(frozen=True)
class Flow:
    """A citizen's tickets and appointment at each stage of the flow, and the staff side."""

    waiting_token: str
    admitted_token: str
    done_token: str
    consultation: Consultation
    appointment_token: str
    slot_start: str


@pytest.fixture
def flow(clock: Any, website_org: Organization, office: Office, service: Service, agent: User) -> Flow:
    member = StaffMember.objects.get(user=agent)
    # A consultation that is over: the free staff member took the citizen at once.
    staffing.set_presence(member, PresenceState.AVAILABLE)
    done = joining.join(office, service=None, display_name="Anna", language="de", mode=Mode.CHAT)
    assert consult.end_consultation(Consultation.objects.get(ticket=done), member)
    # One in consultation now, and the next citizen waiting.
    staffing.set_presence(member, PresenceState.AVAILABLE)
    admitted = joining.join(office, service=None, display_name="Ben", language="de", mode=Mode.VIDEO)
    consultation = Consultation.objects.get(ticket=admitted, ended_at__isnull=True)
    waiting_ticket = joining.join(office, service=None, display_name="Cem", language="de", mode=Mode.CHAT)
    slot = booking.finder(office, service).next_free(2)
    appointment = booking.book(
        office,
        service,
        start=slot[0].start,
        contact=booking.Contact(name="Dora", email="dora@example.org", consent=True),
    )
    return Flow(
        waiting_token=waiting_ticket.token,
        admitted_token=admitted.token,
        done_token=done.token,
        consultation=consultation,
        appointment_token=appointment.token,
        slot_start=slot[1].start.isoformat(),
    )


def citizen_pages(flow: Flow, service: Service) -> list[str]:
    book = "/testhausen/buergerbuero/book/"
    return [
        "/testhausen/",
        "/testhausen/buergerbuero/",
        "/testhausen/buergerbuero/enter/",
        f"/w/{flow.waiting_token}/",
        f"/w/{flow.admitted_token}/consultation/",
        f"/w/{flow.done_token}/done/",
        book,
        f"{book}?service={service.pk}",
        f"{book}details/?service={service.pk}&start={flow.slot_start.replace('+', '%2B')}",
        f"/a/{flow.appointment_token}/",
        f"/a/{flow.appointment_token}/reschedule/",
    ]


def test_citizen_pages_may_be_framed_by_the_organisations_websites(
    client: Client, flow: Flow, service: Service
) -> None:
    for path in citizen_pages(flow, service):
        response = client.get(path)
        assert response.status_code == 200, path
        assert policy(response) == CITIZEN_POLICY, path
        assert "X-Frame-Options" not in response, path


def test_citizen_pages_of_an_organisation_without_websites_are_framed_by_ourselves_only(
    client: Client, flow: Flow, service: Service, website_org: Organization
) -> None:
    website_org.embed_origins = ""
    website_org.save()

    for path in citizen_pages(flow, service):
        assert policy(client.get(path)) == STAFF_POLICY, path


def test_another_organisations_websites_are_not_named(
    client: Client, clock: Any, website_org: Organization, office: Office, other_org: Organization
) -> None:
    other_org.embed_origins = "https://www.anderswo.de"
    other_org.save()

    assert policy(client.get("/testhausen/")) == CITIZEN_POLICY
    assert policy(client.get("/anderswo/")) == "frame-ancestors 'self' https://www.anderswo.de"


def test_staff_and_admin_pages_are_framed_by_ourselves_only(
    client: Client, flow: Flow, agent: User, org_admin: User
) -> None:
    assert policy(client.get("/staff/login/")) == STAFF_POLICY
    assert policy(client.get("/")) == STAFF_POLICY
    client.force_login(agent)
    for path in (
        "/staff/console/",
        f"/staff/consultations/{flow.consultation.pk}/",  # the staff member's side of the call
        "/staff/appointments/",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert policy(response) == STAFF_POLICY, path
    client.force_login(org_admin)
    for path in (
        "/admin/",
        reverse("admin:orgs_organization_change", args=[flow.consultation.office.organization_id]),
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert policy(response) == STAFF_POLICY, path


# --- the frame's first address --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("entry", "target"),
    [
        ("/embed/testhausen/", "/testhausen/"),
        ("/embed/testhausen/buergerbuero/", "/testhausen/buergerbuero/"),
    ],
)
def test_a_listed_website_is_sent_into_the_pages_in_its_language(
    client: Client, clock: Any, website_org: Organization, office: Office, entry: str, target: str
) -> None:
    response = client.get(entry, {"origin": WEBSITE, "lang": "en"})

    assert response.status_code == 302
    assert response["Location"] == target
    cookie = response.cookies["bb_language"]
    assert cookie.value == "en"
    assert cookie["samesite"] == "Lax"  # same-site frames; HTTPS deployments send SameSite=None
    page = client.get(target)
    assert '<html lang="en" dir="ltr">' in page.content.decode()
    assert policy(page) == CITIZEN_POLICY


def test_the_origin_may_end_with_a_slash_and_the_language_is_optional(
    client: Client, clock: Any, website_org: Organization, office: Office
) -> None:
    response = client.get("/embed/testhausen/", {"origin": SECOND_WEBSITE + "/"})

    assert response.status_code == 302
    assert "bb_language" not in response.cookies
    assert '<html lang="de" dir="ltr">' in client.get(response["Location"]).content.decode()


@pytest.mark.parametrize("language", ["ar", "xx", "../en"])
def test_a_language_the_organisation_does_not_offer_is_not_set(
    client: Client, clock: Any, website_org: Organization, office: Office, language: str
) -> None:
    response = client.get("/embed/testhausen/", {"origin": WEBSITE, "lang": language})

    assert response.status_code == 302
    assert "bb_language" not in response.cookies


def test_behind_https_the_language_cookie_travels_in_cross_site_frames(
    client: Client, clock: Any, website_org: Organization, office: Office, settings: Any
) -> None:
    """What ``SECURE_COOKIES=true`` sets (see the settings): SameSite=None needs Secure."""
    settings.LANGUAGE_COOKIE_SAMESITE = "None"
    settings.LANGUAGE_COOKIE_SECURE = True

    cookie = client.get("/embed/testhausen/", {"origin": WEBSITE, "lang": "en"}).cookies["bb_language"]

    assert cookie["samesite"] == "None"
    assert cookie["secure"] is True


@pytest.mark.parametrize(
    ("entry", "direct"),
    [
        ("/embed/testhausen/", "http://testserver/testhausen/"),
        ("/embed/testhausen/buergerbuero/", "http://testserver/testhausen/buergerbuero/"),
    ],
)
@pytest.mark.parametrize("origin", ["https://www.example.org", "http://www.testhausen.de", ""])
def test_another_website_gets_a_clear_refusal_it_may_show(
    client: Client,
    clock: Any,
    website_org: Organization,
    office: Office,
    entry: str,
    direct: str,
    origin: str,
) -> None:
    response = client.get(entry, {"origin": origin, "lang": "de"} if origin else {})

    assert response.status_code == 403
    assert policy(response) == "frame-ancestors *"
    assert "bb_language" not in response.cookies
    html = response.content.decode()
    assert "<h1>Auf dieser Website nicht verfügbar</h1>" in html
    assert "Stadt Testhausen hat dieser Website nicht erlaubt, die virtuellen Büros anzuzeigen." in html
    assert re.search(rf'<a href="{re.escape(direct)}" target="_blank" rel="noopener">', html)
    if origin:
        assert f"Website: {origin}." in html
    else:
        assert "Website:" not in html
    # Nothing of the directory: no office, no status, no way in.
    assert "/enter/" not in html
    assert "geöffnet" not in html
    assert 'href="/testhausen/buergerbuero/"' not in html


def test_every_link_of_the_refusal_leaves_the_frame(
    client: Client, clock: Any, website_org: Organization, office: Office
) -> None:
    html = client.get("/embed/testhausen/", {"origin": "https://www.example.org"}).content.decode()

    links = re.findall(r"<a\b[^>]*>", html)
    staying = [
        link for link in links if 'href="#' not in link and not re.search(r'target="_(blank|top)"', link)
    ]
    assert len(links) >= 2  # the skip link and the direct address at least
    assert staying == []


def test_the_refusal_is_in_the_language_asked_for(
    client: Client, clock: Any, website_org: Organization, office: Office
) -> None:
    response = client.get(
        "/embed/testhausen/", {"origin": "https://www.example.org"}, headers={"accept-language": "en"}
    )

    assert response.status_code == 403
    assert (
        "Stadt Testhausen has not allowed this website to show its virtual offices."
        in response.content.decode()
    )


def test_unknown_organisation_or_office_is_not_found(
    client: Client, website_org: Organization, office: Office
) -> None:
    assert client.get("/embed/gibtsnicht/", {"origin": WEBSITE}).status_code == 404
    assert client.get("/embed/testhausen/gibtsnicht/", {"origin": WEBSITE}).status_code == 404


def test_the_snippet_is_javascript_that_asks_for_camera_microphone_and_screen(client: Client) -> None:
    response = client.get("/embed.js")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    assert "public" in response["Cache-Control"]
    text = response.content.decode()
    assert "document.currentScript" in text
    assert '"camera; microphone; display-capture' in text
    assert "buergerbuero:height" in text
    assert "/embed/" in text


# --- the organisation's admin form ----------------------------------------------------------------
def _admin(user: User) -> Client:
    """Messages are checked in English; the admin's default language is German."""
    client = Client(headers={"accept-language": "en"})
    client.force_login(user)
    return client


def _change_organisation(client: Client, organization: Organization, **changes: str) -> Response:
    url = reverse("admin:orgs_organization_change", args=[organization.pk])
    data = form_data(client.get(url), "organization_form")
    data.update({name: [value] for name, value in changes.items()})
    return client.post(url, data)


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("https://www.testhausen.de/rathaus/", "https://www.testhausen.de/rathaus"),
        ("www.testhausen.de", "www.testhausen.de"),
        ("javascript:alert(1)", "javascript:alert(1)"),
        ("https://www.testhausen.de?x=1", "https://www.testhausen.de?x=1"),
        ("*", "*"),
    ],
)
def test_admin_refuses_an_embedding_origin_with_a_path_or_garbage(
    website_org: Organization, org_admin: User, typed: str, shown: str
) -> None:
    before = website_org.embed_origins

    response = _change_organisation(_admin(org_admin), website_org, embed_origins=f"{WEBSITE}\n{typed}")

    assert response.status_code == 200  # the form again, with the message
    assert (
        f"“{shown}” is not a web address like https://www.example.de (without a path)."
        in response.content.decode()
    )
    website_org.refresh_from_db()
    assert website_org.embed_origins == before


def test_admin_saves_a_list_of_origins(website_org: Organization, org_admin: User) -> None:
    response = _change_organisation(
        _admin(org_admin),
        website_org,
        embed_origins="https://www.testhausen.de\r\nhttp://localhost:8000/\r\n",
    )

    assert response.status_code == 302
    website_org.refresh_from_db()
    assert website_org.embedding_origins == ["https://www.testhausen.de", "http://localhost:8000"]


def test_admin_refuses_a_brand_colour_below_aa_contrast_and_explains(
    website_org: Organization, org_admin: User
) -> None:
    client = _admin(org_admin)

    refused = _change_organisation(client, website_org, primary_colour="#ff0000")

    assert refused.status_code == 200
    assert (
        "This colour is too light: its contrast with white text on buttons and the page is 4.0:1, "
        "but at least 4.5:1 is needed so that everyone can read it (WCAG 2.1 AA). "
        "Please choose a darker shade."
    ) in refused.content.decode()
    website_org.refresh_from_db()
    assert website_org.primary_colour == "#004B87"

    accepted = _change_organisation(
        client, website_org, primary_colour="#004B87", name="Stadt Testhausen (neu)"
    )
    assert accepted.status_code == 302
    website_org.refresh_from_db()
    assert (website_org.primary_colour, website_org.name) == ("#004B87", "Stadt Testhausen (neu)")


def test_the_german_explanation_writes_the_ratio_the_german_way(
    website_org: Organization, org_admin: User
) -> None:
    client = Client()  # the admin's default language: German
    client.force_login(org_admin)

    refused = _change_organisation(client, website_org, primary_colour="#ff0000")

    assert refused.status_code == 200
    assert (
        "Diese Farbe ist zu hell: Ihr Kontrast zu weißer Schrift auf Schaltflächen und der Seite "
        "beträgt 4,0:1, nötig sind mindestens 4,5:1"
    ) in refused.content.decode()
