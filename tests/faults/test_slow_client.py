"""One citizen's device stops reading: the others still get every update promptly.

A citizen in a consultation completes the WebSocket handshake with a tiny receive buffer and
then never reads again, so its TCP receive window fills and the server's writes to it stop
draining. The staff member's page sends it large signalling messages (64 KiB offers, 6 MiB in
all: more than the kernel's and uvicorn's buffers hold). Then the agent posts announcements to
the 30 citizens waiting in the same process: each must reach every one of them within
``PROMPTLY`` seconds, and the stuck socket is evicted (``/metrics``:
``bb_sockets_evicted_total``). Before the hub isolated slow sockets, its delivery task waited
on the stuck socket forever and everyone else in the process went silent.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import socket
import uuid
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.typing import Origin

from buergerbuero.consult.models import Consultation
from buergerbuero.waiting.models import PresenceState
from buergerbuero.waiting.services import joining, staffing
from tests import factories
from tests.faults.support import Citizen, until, waiting_tickets
from tests.support.server import AsgiServer
from tests.waiting.conftest import LiveBrowser, always_open_office, make_live_agent

pytestmark = pytest.mark.django_db(transaction=True)

CITIZENS = 30
PROMPTLY = 2.0
OFFERS = 100  # 64 KiB each
ANNOUNCEMENTS = 30  # one every half second: past the hub's send timeout


def _stuck_client(port: int, path: str) -> socket.socket:
    """A handshake, then never another read."""
    stuck = socket.socket()
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)  # before connect: a small window
    stuck.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    stuck.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: localhost:{port}\r\nOrigin: http://localhost:{port}\r\n"
            f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += stuck.recv(1)  # byte by byte: leave everything after the handshake unread
    assert answer.startswith(b"HTTP/1.1 101"), answer
    return stuck


def _evicted(server: AsgiServer) -> int:
    browser = LiveBrowser(server.port)
    try:
        text = browser.get("/metrics").text()
    finally:
        browser.close()
    match = re.search(r"^bb_sockets_evicted_total\{[^}]*\} (\d+)", text, re.MULTILINE)
    return int(match.group(1)) if match else 0


async def _flood_and_announce(
    server: AsgiServer, agent: LiveBrowser, office_id: int, tokens: list[str], consultation: tuple[int, str]
) -> dict[str, Any]:
    consultation_id, citizen_token = consultation
    citizens = [Citizen(server.port, token, keep=True) for token in tokens]
    tasks = [asyncio.create_task(citizen.run()) for citizen in citizens]
    stuck = await asyncio.to_thread(
        _stuck_client, server.port, f"/ws/consultations/{consultation_id}/?ticket={citizen_token}"
    )
    cookie = "; ".join(f"{name}={value}" for name, value in agent.cookies.items())
    worst = 0.0
    try:
        await until(lambda: all(citizen.snapshots for citizen in citizens), 60)
        async with connect(
            f"ws://127.0.0.1:{server.port}/ws/consultations/{consultation_id}/",
            origin=Origin(f"http://localhost:{server.port}"),
            additional_headers={"Cookie": cookie},
            compression=None,
            proxy=None,
        ) as staff_page:
            offer = {"type": "signal", "to": "citizen", "description": {"type": "offer", "sdp": "x" * 64_000}}
            for _ in range(OFFERS):
                await staff_page.send(json.dumps(offer))
            await asyncio.sleep(1)  # the offers are relayed: the stuck socket's buffers are full
            # The server's buffers are full now: the next sends to the stuck socket must wait.
            for _ in range(5):
                await staff_page.send(json.dumps(offer))
            await asyncio.sleep(0.5)
            for number in range(ANNOUNCEMENTS):
                text = f"Hinweis {number}: " + "x" * 480
                reply = await asyncio.to_thread(
                    agent.post, f"/staff/console/offices/{office_id}/announce/", {"text": text}
                )
                assert reply.status == 200, reply.text()[:300]

                def everyone_has_it(text: str = text) -> bool:
                    return all(c.received and c.received[-1].get("text") == text for c in citizens)

                try:
                    worst = max(worst, await until(everyone_has_it, PROMPTLY, every=0.01))
                except TimeoutError:
                    worst = float("inf")
                    break
                await asyncio.sleep(0.5)
            evicted = await asyncio.to_thread(_evicted, server)
        return {"worst": worst, "evicted": evicted}
    finally:
        stuck.close()
        for citizen in citizens:
            citizen.stopped = True
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def test_a_client_that_stops_reading_does_not_hold_up_the_others() -> None:
    org = factories.make_org("testhausen")
    office = always_open_office(org, "buergerbuero")
    user = make_live_agent(org, "agent", [office])
    staffing.set_presence(user.staff_member, PresenceState.AVAILABLE)
    ticket = joining.join(office, service=None, display_name="Stuck", language="de", mode="chat")
    consultation = Consultation.objects.get(ticket=ticket)
    tickets = waiting_tickets(office, CITIZENS)
    server = AsgiServer(extra_env={"REDIS_PREFIX": f"faults-{uuid.uuid4().hex[:10]}"})
    server.start(timeout=60)
    agent = LiveBrowser(server.port)
    try:
        agent.log_in("agent")
        seen = asyncio.run(
            _flood_and_announce(
                server, agent, office.pk, [t.token for t in tickets], (consultation.pk, ticket.token)
            )
        )
    finally:
        agent.close()
        server.stop()

    print(  # noqa: T201
        f"slow client: the others got each announcement within {seen['worst'] * 1000:.0f} ms; "
        f"evicted sockets: {seen['evicted']}"
    )
    assert seen["worst"] <= PROMPTLY
    assert seen["evicted"] >= 1
