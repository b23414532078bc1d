"""A staff member's open WebSockets end with their login: logging out or timing out closes
the console socket and the staff side of a consultation, and no citizen's name follows.

Driven through the real ASGI application; in the scaled mode (``REDIS_URL``) the logout's
event travels through Redis like any other.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
import zoneinfo
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing.websocket import WebsocketCommunicator
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from pytest_django import Settings

from buergerbuero.config.asgi import application
from buergerbuero.consult.models import Consultation
from buergerbuero.offices.models import Office
from buergerbuero.orgs.models import Organization
from buergerbuero.staff import sockets
from buergerbuero.waiting.models import PresenceState
from buergerbuero.waiting.services import joining, staffing
from tests import factories
from tests.support.realtime import hub_listening

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.anyio]
LOCAL = b"http://localhost"
SECRET_NAME = "Geheimname Mustermann"
OPEN = dt.datetime(2026, 11, 26, 10, 0, tzinfo=zoneinfo.ZoneInfo("Europe/Berlin"))  # a Thursday


@pytest.fixture(autouse=True)
def _own_redis_channel(settings: Settings) -> None:
    settings.REDIS_PREFIX = f"test-{uuid.uuid4().hex[:12]}"


def _logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _password_only(user: User) -> Client:
    client = Client()
    factories.log_in_with_password(client, user)
    return client


async def login(user: User, *, second_factor: bool = True) -> Client:
    client: Client = await database_sync_to_async(_logged_in if second_factor else _password_only)(user)
    return client


async def logout(client: Client) -> None:
    response = await database_sync_to_async(client.post)(reverse("staff:logout"))
    assert response.status_code == 302


def socket(path: str, client: Client) -> Any:
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    headers = [(b"host", b"localhost"), (b"origin", LOCAL), (b"cookie", cookie.encode())]
    return WebsocketCommunicator(application, path, headers=headers)


async def open_console(client: Client) -> Any:
    console = socket("/ws/console/", client)
    connected, code = await console.connect()
    assert connected, code
    assert (await console.receive_json_from())["type"] == "state"
    return console


async def closed_with(communicator: Any) -> int:
    """The close code the socket got, skipping what was still on its way."""
    for _ in range(20):
        message = await communicator.receive_output(timeout=3)
        if message["type"] == "websocket.close":
            code: int = message["code"]
            return code
    raise AssertionError("the socket was not closed")


async def join(office: Office, name: str = SECRET_NAME) -> None:
    await database_sync_to_async(joining.join)(
        office, service=None, display_name=name, language="de", mode="video", now=OPEN
    )


async def test_logout_closes_the_console_socket_and_no_name_follows(office: Office, agent: User) -> None:
    client = await login(agent)
    console = await open_console(client)
    await hub_listening()

    await logout(client)

    assert await closed_with(console) == 4403
    await join(office)
    assert await console.receive_nothing(timeout=0.5)


async def test_logout_of_one_login_leaves_another_login_of_the_same_person_open(
    office: Office, agent: User
) -> None:
    laptop, phone = await login(agent), await login(agent)
    laptop_console, phone_console = await open_console(laptop), await open_console(phone)
    await hub_listening()

    await logout(laptop)

    assert await closed_with(laptop_console) == 4403
    await join(office)
    assert SECRET_NAME in await phone_console.receive_from(timeout=3)
    await phone_console.disconnect()


async def test_a_logged_out_session_cannot_open_the_console_again(agent: User) -> None:
    client = await login(agent)
    cookie_client = client
    await logout(client)

    refused = socket("/ws/console/", cookie_client)
    connected, _ = await refused.connect()
    assert not connected


async def test_the_console_closes_when_the_login_times_out(
    office: Office, agent: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sockets, "CHECK_SECONDS", 0.1)
    client = await login(agent)
    console = await open_console(client)

    def idle_for_an_hour() -> None:
        session = client.session
        session["bb_login_seen"] -= 3600
        session.save()

    await database_sync_to_async(idle_for_an_hour)()

    assert await closed_with(console) == 4403
    await join(office)
    assert await console.receive_nothing(timeout=0.3)


async def test_org_admin_without_the_second_factor_gets_no_console(org_admin: User) -> None:
    client = await login(org_admin, second_factor=False)

    refused = socket("/ws/console/", client)
    connected, _ = await refused.connect()

    assert not connected


async def test_agent_of_an_organisation_requiring_it_gets_no_console_without_it(
    org: Organization, agent: User
) -> None:
    org.staff_second_factor = True
    await database_sync_to_async(org.save)()
    client = await login(agent, second_factor=False)

    connected, _ = await socket("/ws/console/", client).connect()

    assert not connected


def _consultation(office: Office, agent: User) -> Consultation:
    staffing.set_presence(agent.staff_member, PresenceState.AVAILABLE, now=OPEN)
    ticket = joining.join(office, service=None, display_name="Anna", language="de", mode="chat", now=OPEN)
    return Consultation.objects.get(ticket=ticket)


async def test_logout_closes_the_staff_side_of_a_consultation(office: Office, agent: User) -> None:
    consultation = await database_sync_to_async(_consultation)(office, agent)
    client = await login(agent)
    staff = socket(f"/ws/consultations/{consultation.pk}/", client)
    connected, code = await staff.connect()
    assert connected, code
    assert (await staff.receive_json_from())["type"] == "history"
    await hub_listening()

    await logout(client)

    assert await closed_with(staff) == 4403


async def test_an_open_consultation_counts_as_activity(
    office: Office, agent: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long call must not end the staff member's login under their hands."""
    monkeypatch.setattr(sockets, "CHECK_SECONDS", 0.1)
    consultation = await database_sync_to_async(_consultation)(office, agent)
    client = await login(agent)

    def idle_for(minutes: int) -> None:
        session = client.session
        session["bb_login_seen"] -= minutes * 60
        session.save()

    staff = socket(f"/ws/consultations/{consultation.pk}/", client)
    assert (await staff.connect())[0]
    await database_sync_to_async(idle_for)(29)
    await asyncio.sleep(0.5)  # the socket notes its activity

    def home_status() -> int:
        return int(client.get(reverse("staff:home")).status_code)

    await database_sync_to_async(idle_for)(2)  # 31 minutes since the last request …
    assert await database_sync_to_async(home_status)() == 200  # … but the call was activity
    await staff.disconnect()
