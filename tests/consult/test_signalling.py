"""WebRTC signalling: every message is validated, relayed only to its addressee, and a bad one
is refused (error back, logged) without breaking the connection."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth.models import User

from buergerbuero.consult import consumers, signalling
from buergerbuero.consult import services as consult_services
from buergerbuero.consult.models import Consultation
from buergerbuero.consult.signalling import MAX_CANDIDATE, MAX_ID, MAX_SDP, BadSignal, validate
from buergerbuero.staff.models import StaffMember
from tests.consult.support import (
    communicator,
    connect,
    receive_until,
)
from tests.support.realtime import hub_listening

SDP = "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
CANDIDATE = "candidate:842163049 1 udp 1677729535 192.0.2.7 46154 typ srflx raddr 10.0.0.1 rport 46154"


# --- validate() -----------------------------------------------------------------------------
def offer(**extra: Any) -> dict[str, Any]:
    return {"type": "signal", "to": "agent", "description": {"type": "offer", "sdp": SDP}, **extra}


def candidate(to: str = "agent", extra: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    """A candidate signal; ``fields`` change the candidate, ``extra`` the message."""
    value = {"candidate": CANDIDATE, "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": "abcd"}
    return {"type": "signal", "to": to, "candidate": {**value, **fields}, **(extra or {})}


def media(**fields: Any) -> dict[str, Any]:
    """A media-state signal; ``fields`` change the flags."""
    return {"type": "signal", "to": "agent", "media": {"camera": True, "microphone": False, **fields}}


def test_offer_answer_and_rollback_are_relayed_as_is() -> None:
    for kind in ("offer", "answer", "rollback"):
        message = {"type": "signal", "to": "agent", "description": {"type": kind, "sdp": SDP}}
        assert validate(message, "citizen") == {
            "type": "signal",
            "from": "citizen",
            "to": "agent",
            "description": {"type": kind, "sdp": SDP},
        }
    # An SDP at the limit passes; a description without sdp is an empty one.
    assert (
        validate(offer(description={"type": "offer", "sdp": "a" * MAX_SDP}), "citizen")["description"]["sdp"]
        == "a" * MAX_SDP
    )
    assert validate(offer(description={"type": "rollback"}), "citizen")["description"] == {
        "type": "rollback",
        "sdp": "",
    }


def test_candidates_are_relayed() -> None:
    assert validate(candidate(), "citizen") == {
        "type": "signal",
        "from": "citizen",
        "to": "agent",
        "candidate": {"candidate": CANDIDATE, "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": "abcd"},
    }
    # End of candidates: empty candidate, no mid, no index.
    end = {"type": "signal", "to": "agent", "candidate": {"candidate": ""}}
    assert validate(end, "citizen")["candidate"] == {
        "candidate": "",
        "sdpMid": None,
        "sdpMLineIndex": None,
        "usernameFragment": None,
    }
    assert validate(candidate(sdpMLineIndex=63), "citizen")["candidate"]["sdpMLineIndex"] == 63


def test_media_flags_are_relayed() -> None:
    assert validate(media(screen="{0d1c-screen}"), "interpreter") == {
        "type": "signal",
        "from": "interpreter",
        "to": "agent",
        "media": {"camera": True, "microphone": False, "screen": "{0d1c-screen}"},
    }
    assert validate(media(), "citizen")["media"]["screen"] is None


def test_every_pair_of_roles_may_signal() -> None:
    roles = ("citizen", "agent", "interpreter")
    for sender in roles:
        for to in roles:
            if to != sender:
                assert (
                    validate({"to": to, "media": {"camera": False, "microphone": True}}, sender)["to"] == to
                )


def test_only_known_fields_are_relayed_and_the_sender_cannot_be_forged() -> None:
    message = offer(**{"from": "agent", "html": "<img src=x onerror=alert(1)>", "type": "chat"})
    message["description"]["onload"] = "alert(1)"

    relay = validate(message, "citizen")

    assert relay == {
        "type": "signal",
        "from": "citizen",
        "to": "agent",
        "description": {"type": "offer", "sdp": SDP},
    }


@pytest.mark.parametrize(
    ("message", "sender"),
    [
        # the addressee
        ({"type": "signal", "description": {"type": "offer", "sdp": SDP}}, "citizen"),
        (offer(to="nobody"), "citizen"),
        (offer(to="Agent"), "citizen"),
        (offer(to=""), "citizen"),
        (offer(to=None), "citizen"),
        (offer(to=["agent"]), "citizen"),
        (offer(to={"role": "agent"}), "citizen"),
        (offer(), "agent"),  # to oneself
        (candidate(to="interpreter"), "interpreter"),
        # exactly one payload
        ({"type": "signal", "to": "agent"}, "citizen"),
        (offer(candidate={"candidate": CANDIDATE}), "citizen"),
        (offer(media={"camera": True, "microphone": True}), "citizen"),
        (candidate(extra={"media": {"camera": True, "microphone": True}}), "citizen"),
        # descriptions
        (offer(description="v=0"), "citizen"),
        (offer(description=None), "citizen"),
        (offer(description={"sdp": SDP}), "citizen"),
        (offer(description={"type": "pranswer", "sdp": SDP}), "citizen"),
        (offer(description={"type": "offer", "sdp": "a" * (MAX_SDP + 1)}), "citizen"),
        (offer(description={"type": "offer", "sdp": 42}), "citizen"),
        (offer(description={"type": "offer", "sdp": None}), "citizen"),
        (offer(description={"type": "offer", "sdp": ["v=0"]}), "citizen"),
        (offer(description={"type": "offer", "sdp": {"v": 0}}), "citizen"),
        # candidates
        ({"to": "agent", "candidate": CANDIDATE}, "citizen"),
        (candidate(candidate=None), "citizen"),
        (candidate(candidate=1), "citizen"),
        (candidate(candidate="a" * (MAX_CANDIDATE + 1)), "citizen"),
        (candidate(sdpMid=0), "citizen"),
        (candidate(sdpMid="m" * (MAX_ID + 1)), "citizen"),
        (candidate(usernameFragment=["abcd"]), "citizen"),
        (candidate(sdpMLineIndex=True), "citizen"),
        (candidate(sdpMLineIndex=False), "citizen"),
        (candidate(sdpMLineIndex=-1), "citizen"),
        (candidate(sdpMLineIndex=64), "citizen"),
        (candidate(sdpMLineIndex=10**100), "citizen"),
        (candidate(sdpMLineIndex="0"), "citizen"),
        (candidate(sdpMLineIndex=0.0), "citizen"),
        # media flags
        ({"to": "agent", "media": True}, "citizen"),
        (media(camera="true"), "citizen"),
        (media(camera=1), "citizen"),
        (media(microphone=0), "citizen"),
        (media(microphone=None), "citizen"),
        ({"to": "agent", "media": {"camera": True}}, "citizen"),
        (media(screen=7), "citizen"),
        (media(screen="s" * (MAX_ID + 1)), "citizen"),
    ],
)
def test_bad_signals_are_refused(message: dict[str, Any], sender: str) -> None:
    with pytest.raises(BadSignal):
        validate(message, sender)


def test_bad_signal_is_a_value_error_with_a_reason() -> None:
    with pytest.raises(ValueError, match="exactly one of description, candidate, media"):
        validate({"to": "agent"}, "citizen")


def test_the_socket_limit_leaves_room_for_the_largest_valid_sdp() -> None:
    largest = offer(description={"type": "offer", "sdp": "a" * MAX_SDP})
    assert len(json.dumps(largest)) < consumers.MAX_SIGNAL_BYTES
    assert signalling.MAX_SDP < consumers.MAX_SIGNAL_BYTES


# --- over the socket ------------------------------------------------------------------------
def _claimed(consultation: Consultation, member: StaffMember) -> str:
    secret = consult_services.invite_interpreter(consultation, member)
    return consult_services.claim_invite(secret)[1]


async def three_sockets(consultation: Consultation, agent: User, member: StaffMember) -> tuple[Any, Any, Any]:
    """Citizen, agent and interpreter connected, each having seen the other two arrive."""
    await hub_listening()
    session = await database_sync_to_async(_claimed)(consultation, member)
    citizen = await connect(consultation.pk, token=consultation.ticket.token)
    staff = await connect(consultation.pk, user=agent)
    interpreter = communicator(
        consultation.pk, cookie=f"{consult_services.interpreter_cookie(consultation.pk)}={session}"
    )
    assert (await interpreter.connect())[0]
    for socket, others in ((citizen, ("agent", "interpreter")), (staff, ("citizen", "interpreter"))):
        for role in others:
            await receive_until(socket, type="presence", role=role, online=True)
    await receive_until(interpreter, type="history")
    return citizen, staff, interpreter


async def chat_then_collect(sender: Any, text: str, *sockets: Any) -> list[list[dict[str, Any]]]:
    """Send a chat message and collect what each socket received up to it: anything that
    should have reached them before must be among it."""
    await sender.send_json_to({"type": "chat", "text": text})
    return [await receive_until(socket, type="chat", text=text) for socket in sockets]


def signals(received: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [message for message in received if message.get("type") == "signal"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.anyio
async def test_a_signal_reaches_its_addressee_only(
    consultation: Consultation, agent: User, agent_member: StaffMember
) -> None:
    citizen, staff, interpreter = await three_sockets(consultation, agent, agent_member)

    await citizen.send_json_to(offer(**{"from": "interpreter"}))
    to_agent = (await receive_until(staff, type="signal"))[-1]
    after = await chat_then_collect(citizen, "Angebot gesendet", citizen, staff, interpreter)

    assert to_agent == {
        "type": "signal",
        "from": "citizen",  # never what the page claims
        "to": "agent",
        "description": {"type": "offer", "sdp": SDP},
    }
    assert [signals(received) for received in after] == [[], [], []]

    # The agent answers the interpreter: only the interpreter hears it.
    await staff.send_json_to(candidate(to="interpreter"))
    to_interpreter = (await receive_until(interpreter, type="signal"))[-1]
    after = await chat_then_collect(staff, "Kandidat gesendet", citizen, staff, interpreter)

    assert (to_interpreter["from"], to_interpreter["to"]) == ("agent", "interpreter")
    assert [signals(received) for received in after] == [[], [], []]
    for socket in (citizen, staff, interpreter):
        await socket.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.anyio
async def test_a_bad_signal_is_refused_logged_and_harmless(
    consultation: Consultation, agent: User, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="buergerbuero.consult.consumers")
    await hub_listening()
    citizen = await connect(consultation.pk, token=consultation.ticket.token)
    staff = await connect(consultation.pk, user=agent)
    await receive_until(citizen, type="presence", role="agent", online=True)
    await receive_until(staff, type="presence", role="citizen", online=True)

    bad = [
        offer(description={"type": "offer", "sdp": 5}),
        offer(to="citizen"),
        candidate(sdpMLineIndex=True),
        offer(candidate={"candidate": CANDIDATE}),
        media(camera="yes"),
    ]
    errors = []
    for message in bad:
        await citizen.send_json_to(message)
        errors.append((await receive_until(citizen, type="signal_refused"))[-1])

    assert errors == [{"type": "signal_refused", "code": "bad_signal"}] * len(bad)
    refusals = [r for r in caplog.records if r.name == "buergerbuero.consult.consumers"]
    assert len(refusals) == len(bad)
    assert all(r.levelno == logging.WARNING for r in refusals)
    assert all("refused a signalling message" in r.getMessage() for r in refusals)
    assert f"consultation:{consultation.pk}" in refusals[0].getMessage()
    assert "description.sdp" in refusals[0].getMessage()

    # The connection still works both ways, and the agent never saw any of it.
    [to_staff] = await chat_then_collect(citizen, "Noch da?", staff)
    assert signals(to_staff) == []
    assert [m for m in to_staff if m.get("type") in {"error", "signal_refused"}] == []
    await citizen.send_json_to(offer())
    assert (await receive_until(staff, type="signal"))[-1]["from"] == "citizen"
    await citizen.disconnect()
    await staff.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.anyio
async def test_an_oversized_signal_is_refused_and_logged_too(
    consultation: Consultation, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="buergerbuero.consult.consumers")
    citizen = await connect(consultation.pk, token=consultation.ticket.token)
    await receive_until(citizen, type="history")

    await citizen.send_json_to(offer(description={"type": "offer", "sdp": "a" * consumers.MAX_SIGNAL_BYTES}))
    try:
        answer = (await receive_until(citizen, type="signal_refused"))[-1]
    finally:
        await citizen.disconnect()

    assert answer == {"type": "signal_refused", "code": "too_large"}
    assert any("refused a" in r.getMessage() for r in caplog.records)
