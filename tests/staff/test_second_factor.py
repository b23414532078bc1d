"""The second factor: mandatory for org admins and the platform operator, per organisation
for agents and office leads; TOTP setup, verification, recovery codes, removal."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from buergerbuero.audit.models import AuditEntry
from buergerbuero.orgs.models import Organization
from tests import factories

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

SETUP = reverse("staff:setup")
VERIFY = reverse("staff:verify")
SECURITY = reverse("staff:security")
CODE_LIST = re.compile(r"<li><code>([a-z2-7]+)</code></li>")


def english_client() -> Client:
    return Client(headers={"accept-language": "en"})


def password_only(user: User) -> Client:
    client = english_client()
    assert factories.log_in_with_password(client, user).status_code == 302
    return client


def code_of(device: TOTPDevice, steps_ahead: int = 0) -> str:
    device.refresh_from_db()
    value = totp(device.bin_key, step=device.step, t0=device.t0 - steps_ahead * device.step, digits=6)
    return f"{value:06d}"


def set_up_app(client: Client, user: User) -> tuple[TOTPDevice, list[str]]:
    """Through the pages: open setup, confirm with the app's first code; the codes shown."""
    assert client.get(SETUP).status_code == 200
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    response = client.post(SETUP, {"token": code_of(device), "next": "/staff/"})
    assert response.status_code == 200
    codes = CODE_LIST.findall(response.content.decode())
    return device, codes


def wait_out_the_throttle() -> None:
    """django-otp refuses any code for a second after a wrong one (doubling with each)."""
    time.sleep(1.1)


def redirected_to(response: Response, url: str) -> bool:
    return response.status_code == 302 and response["Location"].startswith(url + "?next=")


@pytest.fixture
def superuser(db: None) -> User:
    return User.objects.create_superuser("betrieb", password=factories.PASSWORD)


# --- who must ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("persona", ["org_admin", "superuser"])
def test_org_admin_and_operator_cannot_reach_any_page_before_setting_up_a_second_factor(
    request: pytest.FixtureRequest, persona: str
) -> None:
    user: User = request.getfixturevalue(persona)
    client = password_only(user)

    for url in (
        reverse("staff:home"),
        reverse("admin:index"),
        reverse("admin:offices_office_changelist"),
        reverse("waiting:console"),
        SECURITY,
        reverse("staff:password_change"),
    ):
        assert redirected_to(client.get(url), SETUP), url
    assert client.post(reverse("admin:offices_office_add"), {"name": "x"}).status_code == 302
    assert client.get(SETUP).status_code == 200


def test_with_an_app_the_org_admin_is_sent_to_the_code_step(org_admin: User) -> None:
    factories.pass_second_factor(english_client(), org_admin)  # an app exists now
    client = password_only(org_admin)

    assert redirected_to(client.get(reverse("admin:index")), VERIFY)
    assert redirected_to(client.get(reverse("staff:home")), VERIFY)
    # Nor can a second app be set up past the first one with the password alone.
    assert client.get(SETUP).status_code == 302
    assert TOTPDevice.objects.filter(user=org_admin).count() == 1


def test_agents_need_no_second_factor_unless_their_organisation_asks(agent: User, org: Organization) -> None:
    client = password_only(agent)
    assert client.get(reverse("staff:home")).status_code == 200

    org.staff_second_factor = True
    org.save()

    assert redirected_to(client.get(reverse("staff:home")), SETUP)
    assert redirected_to(client.get(reverse("waiting:console")), SETUP)


def test_office_lead_needs_it_when_the_organisation_asks(office_lead: User, org: Organization) -> None:
    org.staff_second_factor = True
    org.save()
    client = password_only(office_lead)

    assert redirected_to(client.get(reverse("admin:index")), SETUP)


# --- setting up and verifying ---------------------------------------------------------------------
def test_setup_shows_a_qr_code_and_the_key_and_needs_a_right_first_code(org_admin: User) -> None:
    client = password_only(org_admin)

    page = client.get(SETUP).content.decode()
    device = TOTPDevice.objects.get(user=org_admin)
    assert "<svg" in page
    assert "otpauth" not in page  # the address is in the QR code, not in a link
    key = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', page)
    assert key is not None
    assert len(key.group(1).replace(" ", "")) == 32

    wrong = client.post(SETUP, {"token": "000000" if code_of(device) != "000000" else "111111"})
    assert wrong.status_code == 200
    assert "This code is not valid" in wrong.content.decode()
    assert not TOTPDevice.objects.get(pk=device.pk).confirmed
    wait_out_the_throttle()

    device, codes = set_up_app(client, org_admin)

    assert TOTPDevice.objects.get(pk=device.pk).confirmed
    assert len(codes) == 10
    assert len(set(codes)) == 10
    assert client.get(reverse("admin:index")).status_code == 200
    assert AuditEntry.objects.filter(action="account.2fa_enabled", actor=org_admin).count() == 1


def test_wrong_code_is_refused_and_recorded_and_the_right_one_lets_in(org_admin: User) -> None:
    device, _ = set_up_app(password_only(org_admin), org_admin)
    client = password_only(org_admin)

    wrong = client.post(VERIFY, {"token": code_of(device, steps_ahead=5), "next": "/admin/"})
    assert wrong.status_code == 200
    assert redirected_to(client.get(reverse("admin:index")), VERIFY)
    assert AuditEntry.objects.filter(action="account.2fa_failed", actor=org_admin).count() == 1
    wait_out_the_throttle()

    # A code the app shows later (the next step) passes, and next= is followed.
    right = client.post(VERIFY, {"token": code_of(device, steps_ahead=1), "next": "/admin/"})
    assert right.status_code == 302
    assert right["Location"] == "/admin/"
    assert client.get(reverse("admin:index")).status_code == 200


def test_verify_does_not_follow_next_off_site(org_admin: User) -> None:
    device, _ = set_up_app(password_only(org_admin), org_admin)
    client = password_only(org_admin)

    response = client.post(VERIFY, {"token": code_of(device, 1), "next": "https://evil.example/"})

    assert response.status_code == 302
    assert response["Location"] == reverse("staff:home")


def test_a_recovery_code_works_once(org_admin: User) -> None:
    _, codes = set_up_app(password_only(org_admin), org_admin)

    first = password_only(org_admin)
    assert first.post(VERIFY, {"token": codes[0].upper()}).status_code == 302
    assert first.get(reverse("admin:index")).status_code == 200

    second = password_only(org_admin)
    reused = second.post(VERIFY, {"token": codes[0]})
    assert reused.status_code == 200
    assert redirected_to(second.get(reverse("admin:index")), VERIFY)
    wait_out_the_throttle()
    assert second.post(VERIFY, {"token": codes[1]}).status_code == 302


def test_recovery_codes_are_stored_only_as_keyed_hashes(org_admin: User) -> None:
    _, codes = set_up_app(password_only(org_admin), org_admin)

    stored = set(StaticToken.objects.filter(device__user=org_admin).values_list("token", flat=True))
    assert len(stored) == 10
    assert not stored & {code.lower() for code in codes}
    assert not stored & {code.upper() for code in codes}


# --- managing it --------------------------------------------------------------------------------------
def test_new_recovery_codes_need_the_password_and_replace_the_old_ones(org_admin: User) -> None:
    client = password_only(org_admin)
    _, old_codes = set_up_app(client, org_admin)

    refused = client.post(reverse("staff:renew_codes"), {"password": "wrong"})
    assert refused.status_code == 400
    renewed = client.post(reverse("staff:renew_codes"), {"password": factories.PASSWORD})
    new_codes = CODE_LIST.findall(renewed.content.decode())

    assert len(new_codes) == 10
    assert not set(new_codes) & set(old_codes)
    again = password_only(org_admin)
    assert again.post(VERIFY, {"token": old_codes[2]}).status_code == 200
    wait_out_the_throttle()
    assert again.post(VERIFY, {"token": new_codes[0]}).status_code == 302
    assert AuditEntry.objects.filter(action="account.2fa_codes_renewed").count() == 1


def test_removing_the_app_needs_the_password_and_then_asks_for_a_new_one(org_admin: User) -> None:
    client = password_only(org_admin)
    set_up_app(client, org_admin)

    assert client.post(reverse("staff:remove_second_factor"), {"password": "wrong"}).status_code == 400
    assert TOTPDevice.objects.filter(user=org_admin, confirmed=True).exists()

    removed = client.post(reverse("staff:remove_second_factor"), {"password": factories.PASSWORD})

    assert removed.status_code == 302
    assert removed["Location"] == SETUP
    assert not TOTPDevice.objects.filter(user=org_admin, confirmed=True).exists()
    assert redirected_to(client.get(reverse("admin:index")), SETUP)
    assert AuditEntry.objects.filter(action="account.2fa_disabled", actor=org_admin).count() == 1


def test_an_agent_may_set_up_an_app_voluntarily_and_then_confirms_with_it(agent: User) -> None:
    client = password_only(agent)
    device, _ = set_up_app(client, agent)

    later = password_only(agent)
    assert redirected_to(later.get(reverse("staff:home")), VERIFY)
    assert later.post(VERIFY, {"token": code_of(device, 1)}).status_code == 302
    assert later.get(reverse("staff:home")).status_code == 200
