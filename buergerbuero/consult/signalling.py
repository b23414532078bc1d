"""Validation of WebRTC signalling messages between the members of a consultation.

The server only relays offers, answers and ICE candidates (media flow peer to peer); it
checks every message's shape and size so that a misbehaving page cannot inject anything
else into another member's browser.
"""

from __future__ import annotations

from typing import Any

from buergerbuero.consult.models import ParticipantRole
from buergerbuero.realtime import events

MAX_SDP = 64 * 1024
MAX_CANDIDATE = 2048
MAX_ID = 128


class BadSignal(ValueError):
    pass


def _text(value: Any, limit: int, field: str) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise BadSignal(f"{field} must be a string of at most {limit} characters")
    return value


def _optional_text(value: Any, limit: int, field: str) -> str | None:
    return None if value is None else _text(value, limit, field)


def _description(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or value.get("type") not in {"offer", "answer", "rollback"}:
        raise BadSignal("description.type must be offer, answer or rollback")
    return {"type": value["type"], "sdp": _text(value.get("sdp", ""), MAX_SDP, "description.sdp")}


def _candidate(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadSignal("candidate must be an object")
    index = value.get("sdpMLineIndex")
    if index is not None and (not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < 64):
        raise BadSignal("candidate.sdpMLineIndex must be a small integer")
    return {
        "candidate": _text(value.get("candidate", ""), MAX_CANDIDATE, "candidate.candidate"),
        "sdpMid": _optional_text(value.get("sdpMid"), MAX_ID, "candidate.sdpMid"),
        "sdpMLineIndex": index,
        "usernameFragment": _optional_text(
            value.get("usernameFragment"), MAX_ID, "candidate.usernameFragment"
        ),
    }


def _media(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadSignal("media must be an object")
    flags = {key: value.get(key) for key in ("camera", "microphone")}
    if not all(isinstance(flag, bool) for flag in flags.values()):
        raise BadSignal("media.camera and media.microphone must be booleans")
    return {**flags, "screen": _optional_text(value.get("screen"), MAX_ID, "media.screen")}


def validate(message: dict[str, Any], sender: str) -> dict[str, Any]:
    """The relayable form of a ``signal`` message from ``sender``, or BadSignal."""
    to = message.get("to")
    if to not in ParticipantRole.values or to == sender:
        raise BadSignal("to must be another participant's role")
    relay: dict[str, Any] = {"type": events.SIGNAL, "from": sender, "to": to}
    parts = {"description": _description, "candidate": _candidate, "media": _media}
    present = [key for key in parts if key in message]
    if len(present) != 1:
        raise BadSignal("a signal carries exactly one of description, candidate, media")
    key = present[0]
    relay[key] = parts[key](message[key])
    return relay
