"""The browser defences every response carries.

- ``Content-Security-Policy`` (django-csp, one header): scripts only from our origin or with the
  response's nonce (never ``'unsafe-inline'``), no plugins, no ``<base>``, forms post to us only,
  styles from our origin or with the nonce (the brand colour's ``<style>``); ``frame-ancestors``
  as the framing module decides (``tests/embed/test_framing.py``). A response that brings its
  own policy (uploaded media: ``sandbox``) keeps it.
- ``Permissions-Policy``: camera, microphone and screen capture only on the consultation page
  (the pre-call check is part of it), for our own origin; everything else ``=()``.
- ``Strict-Transport-Security`` only behind HTTPS (``SECURE_COOKIES=true``), one year unless
  ``HSTS_SECONDS`` says otherwise; the settings rule is checked in a fresh interpreter.

The real TLS front (nginx) is in ``test_tls_front.py``.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import zoneinfo
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from buergerbuero.consult.models import Consultation
from buergerbuero.lib.browser_policy import ContentSecurityPolicyMiddleware
from buergerbuero.offices.models import Office
from buergerbuero.orgs.models import Organization
from buergerbuero.staff.models import StaffMember
from buergerbuero.waiting.models import Mode, PresenceState
from buergerbuero.waiting.services import joining, staffing

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

ROOT = Path(__file__).resolve().parents[2]
CSP = "Content-Security-Policy"
PP = "Permissions-Policy"
HSTS = "Strict-Transport-Security"
DEVICES = ("camera", "microphone", "display-capture")
THURSDAY_10 = dt.datetime(2026, 11, 26, 10, 0, tzinfo=zoneinfo.ZoneInfo("Europe/Berlin"))  # open


def directives(response: Response | HttpResponse) -> dict[str, list[str]]:
    """The policy as ``{directive: [sources]}``."""
    parsed: dict[str, list[str]] = {}
    for part in str(response[CSP]).split(";"):
        name, *sources = part.split()
        assert name not in parsed, f"{name} twice in {response[CSP]}"
        parsed[name] = sources
    return parsed


def features(response: Response) -> dict[str, str]:
    """``Permissions-Policy`` as ``{feature: allowlist}``."""
    return dict(item.strip().split("=", 1) for item in str(response[PP]).split(","))


@pytest.fixture
def clock() -> Iterator[Any]:
    with time_machine.travel(THURSDAY_10, tick=False) as traveller:
        yield traveller


@pytest.fixture
def consultation(clock: Any, org: Organization, office: Office, agent: User) -> Consultation:
    org.embed_origins = "https://www.testhausen.de"
    org.save()
    staffing.set_presence(StaffMember.objects.get(user=agent), PresenceState.AVAILABLE)
    ticket = joining.join(office, service=None, display_name="Ben", language="de", mode=Mode.VIDEO)
    return Consultation.objects.get(ticket=ticket)


def logged_in(user: User) -> Client:
    """Logged in with the second factor passed (mandatory for org admins)."""
    client = Client()
    client.force_login(user)
    device = TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def every_kind_of_page(
    consultation: Consultation, agent: User, office_lead: User, org_admin: User
) -> list[tuple[Client, str]]:
    citizen, lead, admin, staff = Client(), logged_in(office_lead), logged_in(org_admin), logged_in(agent)
    office = consultation.office
    return [
        (citizen, "/testhausen/"),
        (citizen, "/testhausen/buergerbuero/"),
        (citizen, "/testhausen/buergerbuero/enter/"),
        (citizen, f"/w/{consultation.ticket.token}/consultation/"),
        (citizen, "/testhausen/buergerbuero/book/"),
        (citizen, "/gibtsnicht/"),  # 404
        (citizen, "/"),
        (citizen, "/staff/login/"),
        (staff, "/staff/"),
        (staff, "/staff/console/"),
        (staff, f"/staff/consultations/{consultation.pk}/"),
        (staff, "/staff/appointments/"),
        (admin, "/admin/"),
        (admin, reverse("admin:orgs_organization_change", args=[office.organization_id])),
        (lead, reverse("admin:offices_office_change", args=[office.pk])),  # the live preview
        (citizen, "/api/v1/organizations/testhausen/"),
        (citizen, "/api/v1/openapi.json"),
    ]


def test_every_kind_of_page_allows_scripts_only_from_us_or_with_its_nonce(
    consultation: Consultation, agent: User, office_lead: User, org_admin: User
) -> None:
    for client, path in every_kind_of_page(consultation, agent, office_lead, org_admin):
        response = client.get(path)
        assert response.status_code in {200, 404}, path
        policy = directives(response)
        assert policy["default-src"] == ["'self'"], path
        scripts = policy["script-src"]
        assert scripts[0] == "'self'", path
        assert len(scripts) == 2, path
        assert re.fullmatch(r"'nonce-[A-Za-z0-9+/=]{20,}'", scripts[1]), path
        assert policy["object-src"] == ["'none'"], path
        assert policy["base-uri"] == ["'none'"], path
        assert policy["form-action"] == ["'self'"], path
        assert policy["connect-src"] == ["'self'"], path
        assert "'unsafe-inline'" not in str(response[CSP]), path
        assert "'unsafe-eval'" not in str(response[CSP]), path


def test_the_brand_colour_style_carries_the_responses_own_nonce(client: Client, office: Office) -> None:
    first, second = client.get("/testhausen/"), client.get("/testhausen/")

    nonces = []
    for response in (first, second):
        (nonce,) = re.findall(r"'nonce-([^']+)'", directives(response)["style-src"][1])
        assert directives(response)["style-src"] == ["'self'", f"'nonce-{nonce}'"]
        assert f'<style nonce="{nonce}">:root {{ --brand: #004B87; }}</style>' in response.content.decode()
        nonces.append(nonce)
    assert nonces[0] != nonces[1]


def test_the_admins_office_page_has_no_style_attribute(office_lead: User, office: Office) -> None:
    """``style-src`` without ``'unsafe-inline'`` would drop the preview box's style attribute."""
    page = logged_in(office_lead).get(reverse("admin:offices_office_change", args=[office.pk]))

    html = page.content.decode()
    assert "data-waiting-preview" in html
    assert " style=" not in html


def test_citizen_pages_keep_their_frame_ancestors_in_the_one_policy(consultation: Consultation) -> None:
    response = Client().get("/testhausen/")

    assert directives(response)["frame-ancestors"] == ["'self'", "https://www.testhausen.de"]
    assert "X-Frame-Options" not in response


def test_a_response_with_its_own_policy_keeps_it() -> None:
    """Uploaded media are served with ``sandbox; default-src 'none'``: no page policy over it."""

    def media(request: HttpRequest) -> HttpResponse:
        response = HttpResponse(b"\x00\x00\x00\x18ftypmp42", content_type="video/mp4")
        response[CSP] = "sandbox; default-src 'none'"
        return response

    response = ContentSecurityPolicyMiddleware(media)(RequestFactory().get("/media/waiting/x.mp4"))

    assert isinstance(response, HttpResponse)
    assert response[CSP] == "sandbox; default-src 'none'"


# --- Permissions-Policy ---------------------------------------------------------------------------
def test_only_the_consultation_page_may_use_camera_microphone_and_screen(
    consultation: Consultation, agent: User, office_lead: User, org_admin: User
) -> None:
    consultation_pages = {
        f"/w/{consultation.ticket.token}/consultation/",
        f"/staff/consultations/{consultation.pk}/",
    }
    for client, path in every_kind_of_page(consultation, agent, office_lead, org_admin):
        allowed = features(client.get(path))
        expected = "(self)" if path in consultation_pages else "()"
        for feature in DEVICES:
            assert allowed[feature] == expected, (path, feature)
        for feature in ("geolocation", "payment", "usb", "serial", "hid", "midi"):
            assert allowed[feature] == "()", (path, feature)


# --- HSTS -----------------------------------------------------------------------------------------
def test_no_hsts_over_plain_http_by_default(client: Client, office: Office) -> None:
    assert HSTS not in client.get("/testhausen/")
    assert HSTS not in client.get("/testhausen/", secure=True)


def test_hsts_over_https_when_configured(settings: Any, office: Office) -> None:
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = False

    assert Client().get("/testhausen/", secure=True)[HSTS] == "max-age=31536000"
    assert HSTS not in Client().get("/testhausen/")  # never over plain HTTP


def settings_under(env: dict[str, str], *names: str) -> list[str]:
    """The settings a fresh process derives from ``env``."""
    code = "from django.conf import settings; " + "; ".join(f"print(repr(settings.{name}))" for name in names)
    clean = {key: value for key, value in os.environ.items() if key not in {"SECURE_COOKIES", "HSTS_SECONDS"}}
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "buergerbuero.config.settings", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.split()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, ["0", "False"]),
        ({"SECURE_COOKIES": "true"}, ["31536000", "False"]),
        (
            {"SECURE_COOKIES": "true", "HSTS_SECONDS": "600", "HSTS_INCLUDE_SUBDOMAINS": "true"},
            ["600", "True"],
        ),
    ],
)
def test_hsts_follows_secure_cookies(env: dict[str, str], expected: list[str]) -> None:
    assert settings_under(env, "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS") == expected


def test_hsts_without_https_is_refused_at_start() -> None:
    with pytest.raises(subprocess.CalledProcessError) as refused:
        settings_under({"HSTS_SECONDS": "600"}, "SECURE_HSTS_SECONDS")

    assert "HSTS_SECONDS needs SECURE_COOKIES=true" in str(refused.value.stderr)


def test_the_forwarded_scheme_is_left_to_the_server_not_trusted_from_any_client() -> None:
    """uvicorn sets https from X-Forwarded-Proto for trusted proxies only; Django's
    SECURE_PROXY_SSL_HEADER would believe the header from anyone who reaches the server."""
    assert settings_under({"SECURE_COOKIES": "true"}, "SECURE_PROXY_SSL_HEADER") == ["None"]
