"""Rooms on the Janus servers: whether one answers, which one takes an event, and the room's life.

The rules:

- **Only our server talks to Janus.** Every request carries the server's API secret; creating
  a room needs the VideoRoom ``admin_key``; each room gets a secret of its own (derived from
  ``SECRET_KEY``, the server's name and the room number, so no process stores it) that editing,
  kicking, muting and destroying need. A browser could neither create nor destroy a room even if
  it reached Janus.
- **An event lives on one server.** :func:`assign_server` picks, among the servers that answer,
  the one with the fewest live rooms (ties: the first in ``JANUS_SERVERS``); the caller stores
  the name with the event and passes it to every later call, so a room is never looked for on
  another server. Adding a server adds capacity for events assigned from then on.
- **Idempotent.** :func:`create_room` on an existing room and :func:`destroy_room` on a missing
  one succeed, so a retried start or end of an event does no harm.
- **Short timeouts, cached health.** :func:`available` asks each server with a one-second
  timeout and remembers the answer for ``HEALTH_TTL`` seconds, so a page that shows whether
  events can go live costs no request most of the time.

These are blocking calls (httpx, a few loopback requests each); from async code run them in a
thread (``asgiref.sync.sync_to_async``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import httpx
from django.conf import settings
from django.utils.translation import gettext as _

from buergerbuero.lib.errors import ServiceError
from buergerbuero.sfu.process import ping
from buergerbuero.sfu.servers import JanusServer, all_servers, server

PLUGIN = "janus.plugin.videoroom"
TIMEOUT = 5.0  # one loopback request; Janus answers in milliseconds
HEALTH_TIMEOUT = 1.0
HEALTH_TTL = 3.0

# The VideoRoom's error codes this module acts on.
NO_SUCH_ROOM = 426
ROOM_EXISTS = 427
NO_SUCH_FEED = 428
UNAUTHORIZED = 433

# Stage's publishers send audio first, then video (static/sfu/stage.js adds the transceivers
# in this order), so the media of every feed have these mids.
AUDIO_MID = "0"
VIDEO_MID = "1"


class SfuError(ServiceError):
    """Janus refused a request or did not answer."""


def _unavailable() -> SfuError:
    return SfuError(
        _("Events need the media server, which does not answer at the moment."), "sfu_unavailable"
    )


def _failed(detail: str) -> SfuError:
    # The detail (Janus's own words) is for the log and the tests, not for a user: str() has it,
    # the message does not.
    error = SfuError(_("The media server refused the request."), "sfu_refused")
    error.args = (detail,)
    return error


def room_secret(janus: JanusServer, room_id: int) -> str:
    """The room's own secret: the same in every process, never stored."""
    text = f"buergerbuero.sfu.room:{janus.name}:{room_id}"
    return hmac.new(settings.SECRET_KEY.encode(), text.encode(), hashlib.sha256).hexdigest()


# --- health -------------------------------------------------------------------------------------
_health: dict[str, tuple[float, bool]] = {}
_health_lock = threading.Lock()


def forget_health() -> None:
    """Ask again at the next :func:`available` (tests that stop and start Janus)."""
    with _health_lock:
        _health.clear()


def server_available(janus: JanusServer) -> bool:
    now = time.monotonic()
    with _health_lock:
        cached = _health.get(janus.name)
    if cached is not None and now - cached[0] < HEALTH_TTL:
        return cached[1]
    answer = ping(janus.url, janus.api_secret, timeout=HEALTH_TIMEOUT)
    with _health_lock:
        _health[janus.name] = (time.monotonic(), answer)
    return answer


def available(name: str | None = None) -> bool:
    """Whether the named server (or, without a name, any configured server) answers."""
    if name is not None:
        return server_available(server(name))
    return any(server_available(janus) for janus in all_servers())


# --- one request session with the VideoRoom ---------------------------------------------------------
class _Videoroom:
    """A Janus session with one VideoRoom handle, for synchronous plugin requests."""

    def __init__(self, client: httpx.Client, janus: JanusServer) -> None:
        self.client = client
        self.janus = janus
        self.handle_url = ""

    def _post(self, url: str, payload: dict[str, Any]) -> dict[str, Any]:
        payload = {**payload, "transaction": secrets.token_hex(8), "apisecret": self.janus.api_secret}
        try:
            response = self.client.post(url, json=payload)
            answer: dict[str, Any] = response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise _unavailable() from error
        if answer.get("janus") == "error":
            raise _failed(str(answer.get("error")))
        return answer

    def open(self) -> str:
        session = self._post(self.janus.url, {"janus": "create"})["data"]["id"]
        session_url = f"{self.janus.url}/{session}"
        handle = self._post(session_url, {"janus": "attach", "plugin": PLUGIN})["data"]["id"]
        self.handle_url = f"{session_url}/{handle}"
        return session_url

    def request(self, body: dict[str, Any]) -> dict[str, Any]:
        """The plugin's answer (``plugindata.data``) to a synchronous request."""
        answer = self._post(self.handle_url, {"janus": "message", "body": body})
        data: dict[str, Any] = answer.get("plugindata", {}).get("data", {})
        return data


@contextmanager
def _videoroom(janus: JanusServer) -> Iterator[_Videoroom]:
    with httpx.Client(timeout=TIMEOUT) as client:
        room = _Videoroom(client, janus)
        session_url = room.open()
        try:
            yield room
        finally:
            # Destroying the session detaches the handle; a failure here changes nothing.
            with suppress(SfuError):
                room._post(session_url, {"janus": "destroy"})


def _check(data: dict[str, Any], *, allowed: tuple[int, ...] = ()) -> dict[str, Any]:
    code = data.get("error_code")
    if code is not None and code not in allowed:
        raise _failed(f"{code}: {data.get('error')}")
    return data


# --- the operations -----------------------------------------------------------------------------------
def live_rooms(name: str) -> list[dict[str, Any]]:
    """The rooms on a server, as Janus lists them (``room``, ``num_participants``, …)."""
    janus = server(name)
    with _videoroom(janus) as room:
        data = _check(room.request({"request": "list", "admin_key": janus.admin_key}))
    rooms: list[dict[str, Any]] = data.get("list", [])
    return rooms


def assign_server() -> str:
    """The name of the answering server with the fewest live rooms (the caller stores it with
    the event). :class:`SfuError` when no server answers."""
    best: tuple[int, str] | None = None
    for janus in all_servers():
        if not server_available(janus):
            continue
        try:
            count = len(live_rooms(janus.name))
        except SfuError:
            continue
        if best is None or count < best[0]:
            best = (count, janus.name)
    if best is None:
        raise _unavailable()
    return best[1]


def create_room(name: str, room_id: int, *, description: str, max_publishers: int) -> None:
    """Make the room (nothing happens when it exists). ``max_publishers``: how many may be on
    stage at once (hosts, co-speakers, interpreter, a viewer brought up)."""
    janus = server(name)
    body = {
        "request": "create",
        "room": room_id,
        "admin_key": janus.admin_key,
        "secret": room_secret(janus, room_id),
        "description": description[:120],
        "publishers": max_publishers,
        "permanent": False,
        "is_private": True,  # not in the list of rooms for anyone without the admin_key
        "notify_joining": False,  # viewers come and go by the hundred: only publishers are news
        "audiolevel_event": False,
        "fir_freq": 10,  # a keyframe every 10 s at least: a late viewer sees a picture soon
        "bitrate": 1_024_000,
    }
    with _videoroom(janus) as room:
        _check(room.request(body), allowed=(ROOM_EXISTS,))


def destroy_room(name: str, room_id: int) -> None:
    """End the room: Janus hangs up on everyone in it (nothing happens when it is gone)."""
    janus = server(name)
    body = {"request": "destroy", "room": room_id, "secret": room_secret(janus, room_id)}
    with _videoroom(janus) as room:
        _check(room.request(body), allowed=(NO_SUCH_ROOM,))


def kick(name: str, room_id: int, feed_id: int) -> None:
    """Remove a participant (publisher or viewer) from the room; a feed already gone is fine."""
    janus = server(name)
    body = {"request": "kick", "room": room_id, "id": feed_id, "secret": room_secret(janus, room_id)}
    with _videoroom(janus) as room:
        _check(room.request(body), allowed=(NO_SUCH_FEED,))


def moderate(
    name: str, room_id: int, feed_id: int, *, audio: bool | None = None, video: bool | None = None
) -> None:
    """Mute (False) or unmute (True) a publisher's audio and/or video for everyone: Janus stops
    relaying it, whatever the publisher's browser sends."""
    janus = server(name)
    with _videoroom(janus) as room:
        for mid, allowed in ((AUDIO_MID, audio), (VIDEO_MID, video)):
            if allowed is None:
                continue
            body = {
                "request": "moderate",
                "room": room_id,
                "id": feed_id,
                "mid": mid,
                "mute": not allowed,
                "secret": room_secret(janus, room_id),
            }
            _check(room.request(body))


def participants(name: str, room_id: int) -> list[dict[str, Any]]:
    """Who is in the room (``id``, ``display``, ``publisher``); empty when the room is gone."""
    janus = server(name)
    with _videoroom(janus) as room:
        data = _check(room.request({"request": "listparticipants", "room": room_id}), allowed=(NO_SUCH_ROOM,))
    found: list[dict[str, Any]] = data.get("participants", [])
    return found
