"""Helpers of the consultation tests: a running consultation, clients and its socket."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from typing import TYPE_CHECKING, Any

from channels.db import database_sync_to_async
from channels.testing.websocket import WebsocketCommunicator
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from buergerbuero.config.asgi import application
from buergerbuero.consult.models import Consultation
from buergerbuero.offices.models import Office
from buergerbuero.waiting.models import PresenceState
from buergerbuero.waiting.services import joining, staffing

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
OPEN = dt.datetime(2026, 11, 26, 10, 0, tzinfo=BERLIN)  # a Thursday, 08:00–16:00
LOCAL = b"http://localhost"


def english() -> Client:
    return Client(headers={"accept-language": "en"})


def start_consultation(office: Office, agent: User, name: str = "Anna Beispiel") -> Consultation:
    staffing.set_presence(agent.staff_member, PresenceState.AVAILABLE, now=OPEN)
    ticket = joining.join(office, service=None, display_name=name, language="de", mode="chat", now=OPEN)
    return Consultation.objects.select_related("ticket", "office").get(ticket=ticket)


def logged_in(user: User) -> Client:
    client = Client(headers={"accept-language": "en"})
    client.force_login(user)
    return client


def body(response: Response) -> str:
    return response.content.decode()


def german(message: str) -> str:
    with translation.override("de"):
        return gettext(message)


def agent_page(consultation: Consultation) -> str:
    return reverse("consult:agent", kwargs={"consultation_id": consultation.pk})


def end_url(consultation: Consultation) -> str:
    return reverse("consult:end", kwargs={"consultation_id": consultation.pk})


def citizen_url(name: str, consultation: Consultation) -> str:
    return reverse(f"consult:{name}", kwargs={"token": consultation.ticket.token})


def _session_cookie(user: User) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


def communicator(consultation_id: int, *, token: str = "", cookie: str = "") -> Any:
    path = f"/ws/consultations/{consultation_id}/"
    if token:
        path += f"?ticket={token}"
    headers = [(b"host", b"localhost"), (b"origin", LOCAL)]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return WebsocketCommunicator(application, path, headers=headers)


async def connect(consultation_id: int, *, token: str = "", user: User | None = None) -> Any:
    cookie = await database_sync_to_async(_session_cookie)(user) if user is not None else ""
    socket = communicator(consultation_id, token=token, cookie=cookie)
    connected, code = await socket.connect()
    assert connected, code
    return socket


async def refused(consultation_id: int, *, token: str = "", user: User | None = None) -> bool:
    cookie = await database_sync_to_async(_session_cookie)(user) if user is not None else ""
    connected, code = await communicator(consultation_id, token=token, cookie=cookie).connect()
    return not connected and code == 4403


async def receive_json(socket: Any) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await socket.receive_from(timeout=3))
    return message


async def receive_until(socket: Any, **expected: Any) -> list[dict[str, Any]]:
    """Messages up to and including the first whose fields match ``expected``."""
    received: list[dict[str, Any]] = []
    while not received or any(received[-1].get(k) != v for k, v in expected.items()):
        received.append(await receive_json(socket))
    return received
