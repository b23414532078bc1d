"""The server side of an event's media signalling: one :class:`JanusPeer` per WebSocket.

The browser never talks to Janus. Its page script (``static/sfu/stage.js``) sends media messages
over the page's own socket; the socket's consumer hands each one to its ``JanusPeer``, which
checks it and speaks Janus's HTTP API (one VideoRoom handle that sits in the room and publishes,
one subscriber handle for everything the browser watches), and hands Janus's answers back
through ``on_event``.

All peers of a process that use one Janus server share one Janus session (:class:`_Session`):
one HTTP client, one long poll that brings the events of every handle (up to ``MAX_EVENTS`` an
answer, handed to each peer's own queue, so a slow page never holds up the others) and one
keepalive. A session, client and long poll per socket cost an HTTP exchange for each event of
each viewer (~6 per viewer when someone came on stage) and a client per socket; with 100 peers
in one process (Janus-accepted answers, no media) the server's CPU per viewer went from 34 to 6
ms for a join and from 3.9–6.2 to 2.3–3.3 ms for a stage switch, and all 100 had answered the
new feed's offer after 310–390 ms instead of 440–680 ms. When the session is lost (Janus
stopped, restarted or timed it out) every peer on it reports ``unavailable``, as before, and
the next peer opens a new session.

Browser → server (each with ``"op"``; anything else, or anything malformed, is answered with
``error`` ``invalid`` and never reaches Janus):

- ``join`` — enter the room; the answer is ``publishers`` (also sent before any other op).
- ``publish`` ``{jsep: offer, display}`` — go on stage. **Whether a participant may publish is
  the caller's decision** (a host, a co-speaker, a viewer the moderator brought up): the caller
  passes ``publish`` on only then, and sets ``display`` to the name it wants the others to see.
- ``configure`` ``{audio: bool, video: bool}`` — stop or resume sending one's audio or video.
- ``unpublish`` — leave the stage, stay in the room. The page drops its connection as it
  asks; ``unpublished`` confirms it later, and may come after the page published anew on a
  new connection (a confirmation that concerns the connection before a newer ``publish`` is
  not passed on), so the page never lets it touch the connection it has then.
- ``subscribe`` ``{feeds: [id, …]}`` — watch feeds; only feeds Janus announced in this room
  (not one's own), so a page cannot reach into another room or guess ids.
- ``answer`` ``{jsep: answer}`` — the browser's answer to a subscriber ``offer`` (starts media).
- ``trickle`` ``{target: "publisher"|"subscriber", candidate: {candidate, sdpMid, sdpMLineIndex}
  | null}`` — an ICE candidate, or ``null`` when gathering is complete.
- ``leave`` — leave the room (hangs up both connections); ``join`` comes back.

Server → browser (``on_event``): ``publishers`` ``{feeds: [{id, display}]}`` (those on stage
now, then each newcomer), ``published`` ``{jsep: answer, feed}``, ``unpublished``, ``offer``
``{jsep, streams: [{mid, feed, display, kind}]}`` (the subscriber connection, first and after
each change), ``left`` ``{feed}``, ``error`` ``{reason}``. Reasons are short codes (see
``REASONS``), never Janus's own text.

Feed ids are chosen by Janus, never by the browser; :attr:`JanusPeer.feed_id` is this socket's
feed while it publishes, so the caller can map feeds to participants (to mute or remove one
with ``rooms.moderate``/``rooms.kick``). Rate limits on the socket's messages are the caller's,
as for every socket of the product; the limits here bound what one message can cost.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import secrets
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from buergerbuero.sfu import rooms
from buergerbuero.sfu.servers import JanusServer, server

log = logging.getLogger(__name__)

MAX_SDP = 64 * 1024
MAX_CANDIDATE = 1024
MAX_DISPLAY = 64
MAX_FEEDS_PER_REQUEST = 16
MAX_WANTED = 64  # feeds asked for that are not (yet) on stage
MAX_FEED_ID = 2**53 - 1  # what JavaScript holds exactly
POLL_SECONDS = 30  # Janus holds a long poll this long before it answers with a keepalive
KEEPALIVE_SECONDS = 25  # below Janus's session_timeout of 60 s
MAX_EVENTS = 100  # events one long poll may bring (of all the peers of the session)
# Requests to Janus at once per session (each a few ms on loopback; more wait for a connection)
MAX_CONNECTIONS = 32

# The reasons an ``error`` carries; the caller shows its own words for each.
REASONS = (
    "invalid",  # a malformed message: nothing was done
    "unknown_feed",  # not a feed on stage in this room
    "not_publishing",  # configure/unpublish without being on stage
    "stage_full",  # the room's max_publishers are on stage
    "room_closed",  # the room is gone (the event ended)
    "removed",  # a moderator removed this participant
    "unavailable",  # Janus does not answer
    "failed",  # Janus refused for another reason
)

JANUS_REASONS = {
    426: "room_closed",  # no such room
    428: "unknown_feed",  # no such feed
    432: "stage_full",  # too many publishers
    433: "failed",  # unauthorised: our secrets are wrong, not the browser's fault
}

NOT_PUBLISHED = 435

OnEvent = Callable[[dict[str, Any]], Awaitable[None]]


class Invalid(ValueError):
    """A browser message that is not what the protocol allows."""


class _JanusDown(Exception):
    pass


class _JanusRefused(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


# --- validation of what the browser sends ---------------------------------------------------------
def _jsep(message: dict[str, Any], kind: str) -> dict[str, str]:
    jsep = message.get("jsep")
    if not isinstance(jsep, dict) or jsep.get("type") != kind:
        raise Invalid("jsep")
    sdp = jsep.get("sdp")
    if not isinstance(sdp, str) or not sdp.startswith("v=0") or len(sdp) > MAX_SDP:
        raise Invalid("sdp")
    return {"type": kind, "sdp": sdp}


def _display(message: dict[str, Any]) -> str:
    display = message.get("display", "")
    if not isinstance(display, str):
        raise Invalid("display")
    display = " ".join(display.split())  # no control characters, no line breaks
    if len(display) > MAX_DISPLAY:
        raise Invalid("display")
    return display


def _flag(message: dict[str, Any], name: str) -> bool | None:
    value = message.get(name)
    if value is not None and not isinstance(value, bool):
        raise Invalid(name)
    return value


def _feeds(message: dict[str, Any]) -> list[int]:
    feeds = message.get("feeds")
    if not isinstance(feeds, list) or not 1 <= len(feeds) <= MAX_FEEDS_PER_REQUEST:
        raise Invalid("feeds")
    for feed in feeds:
        # bool is an int in Python; true is not a feed
        if not isinstance(feed, int) or isinstance(feed, bool) or not 1 <= feed <= MAX_FEED_ID:
            raise Invalid("feeds")
    return list(dict.fromkeys(feeds))


def _candidate(message: dict[str, Any]) -> dict[str, Any]:
    candidate = message.get("candidate")
    if candidate is None:
        return {"completed": True}
    if not isinstance(candidate, dict):
        raise Invalid("candidate")
    text, mid, index = candidate.get("candidate"), candidate.get("sdpMid"), candidate.get("sdpMLineIndex")
    if not isinstance(text, str) or len(text) > MAX_CANDIDATE:
        raise Invalid("candidate")
    if text == "":
        return {"completed": True}
    if mid is not None and (not isinstance(mid, str) or len(mid) > 32):
        raise Invalid("candidate")
    if index is not None and (not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < 64):
        raise Invalid("candidate")
    return {"candidate": text, "sdpMid": mid, "sdpMLineIndex": index}


def _target(message: dict[str, Any]) -> str:
    target = message.get("target")
    if target not in {"publisher", "subscriber"}:
        raise Invalid("target")
    return str(target)


# --- the Janus session the peers of a process share ------------------------------------------------
Deliver = Callable[[dict[str, Any]], None]
LOST: dict[str, Any] = {"janus": "lost"}  # to a peer's queue: the session is gone


class _Session:
    """One Janus session for the peers of this event loop that use one Janus server: the handles'
    events come through one long poll and are handed to each handle's peer."""

    def __init__(self, janus: JanusServer) -> None:
        self.janus = janus
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(10.0, read=POLL_SECONDS + 15, pool=POLL_SECONDS),
            limits=httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS),
        )
        self.url = ""
        self.lost = False
        self.users = 0  # peers holding this session (from their first request to their close)
        self.handles: dict[int, Deliver] = {}
        self._opening = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []

    async def post(self, url: str, payload: dict[str, Any]) -> dict[str, Any]:
        if self.lost:
            raise _JanusDown
        payload = {**payload, "transaction": secrets.token_hex(8), "apisecret": self.janus.api_secret}
        try:
            response = await self.client.post(url, json=payload)
            answer: dict[str, Any] = response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise _JanusDown from error
        if answer.get("janus") == "error":
            raise _JanusRefused(int(answer.get("error", {}).get("code", 0)))
        return answer

    async def open(self) -> None:
        async with self._opening:
            if self.url:
                return
            answer = await self.post(self.janus.url, {"janus": "create"})
            self.url = f"{self.janus.url}/{int(answer['data']['id'])}"
            self._tasks = [
                asyncio.create_task(self._poll(), name="janus-poll"),
                asyncio.create_task(self._keepalive(), name="janus-keepalive"),
            ]

    async def attach(self, deliver: Deliver) -> int:
        await self.open()
        answer = await self.post(self.url, {"janus": "attach", "plugin": rooms.PLUGIN})
        handle = int(answer["data"]["id"])
        self.handles[handle] = deliver
        return handle

    async def detach(self, handle: int) -> None:
        if self.handles.pop(handle, None) is not None:
            with contextlib.suppress(_JanusDown, _JanusRefused):
                await self.post(f"{self.url}/{handle}", {"janus": "detach"})

    async def _poll(self) -> None:
        params = {"maxev": str(MAX_EVENTS), "apisecret": self.janus.api_secret}
        while not self.lost:
            try:
                response = await self.client.get(self.url, params=params)
                answer = response.json()
            except (httpx.HTTPError, ValueError):
                self._lose()
                return
            for event in answer if isinstance(answer, list) else [answer]:
                if not isinstance(event, dict):
                    continue
                if event.get("janus") in {"timeout", "error"}:  # the session is gone
                    self._lose()
                    return
                sender = event.get("sender")
                deliver = self.handles.get(sender) if isinstance(sender, int) else None
                if deliver is not None:
                    deliver(event)

    async def _keepalive(self) -> None:
        while not self.lost:
            await asyncio.sleep(KEEPALIVE_SECONDS)
            with contextlib.suppress(_JanusDown, _JanusRefused):
                await self.post(self.url, {"janus": "keepalive"})

    def _lose(self) -> None:
        """Janus no longer knows this session: every peer on it is told; new peers get a new one."""
        self.lost = True
        _forget(self)
        for deliver in set(self.handles.values()):  # a peer's handles share its queue
            deliver(LOST)
        self.handles.clear()
        for task in self._tasks:
            if task is not asyncio.current_task():
                task.cancel()

    async def release(self) -> None:
        """A peer is done with the session; the last one ends it."""
        self.users -= 1
        if self.users > 0:
            return
        _forget(self)
        for task in self._tasks:
            task.cancel()
        if self.url and not self.lost:
            with contextlib.suppress(_JanusDown, _JanusRefused):
                await self.post(self.url, {"janus": "destroy"})
        self.lost = True
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.client.aclose()


_sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, str], _Session]] = (
    weakref.WeakKeyDictionary()
)


def _session(janus: JanusServer) -> _Session:
    """This event loop's session with the server (the caller holds it until it releases it)."""
    sessions = _sessions.setdefault(asyncio.get_running_loop(), {})
    key = (janus.name, janus.url)
    session = sessions.get(key)
    if session is None:
        session = sessions[key] = _Session(janus)
    session.users += 1
    return session


def _forget(session: _Session) -> None:
    with contextlib.suppress(RuntimeError):  # no running loop: nothing registered here
        sessions = _sessions.get(asyncio.get_running_loop(), {})
        key = (session.janus.name, session.janus.url)
        if sessions.get(key) is session:
            del sessions[key]


class JanusPeer:
    """One browser's media in one room of one Janus server, for the life of its socket."""

    def __init__(self, server_name: str, room_id: int, on_event: OnEvent) -> None:
        self.janus = server(server_name)
        self.room_id = room_id
        self.on_event = on_event
        self.feed_id: int | None = None  # ours while on stage (Janus's participant id)
        self._participant_id: int | None = None
        self._private_id: int | None = None
        self._session: _Session | None = None  # from the first request to Janus until the close
        self._events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()  # Janus's, for our handles
        self._worker: asyncio.Task[None] | None = None
        self._room_handle: int | None = None
        self._subscriber_handle: int | None = None
        self._on_stage: dict[int, str] = {}  # feed id -> display, as Janus announced them
        self._subscribed: set[int] = set()
        self._wanted: set[int] = set()  # asked for before Janus announced them
        self._publishing = False
        self._publishes = 0  # publish requests sent to Janus on this socket
        # For each unpublish the page asked for and Janus has not confirmed yet: how many
        # publishes had been sent then (a later publish makes the confirmation a stale one).
        self._unpublishes: collections.deque[int] = collections.deque()
        self._lock = asyncio.Lock()
        self._closed = False

    # --- the browser's messages -------------------------------------------------------------
    async def handle(self, message: dict[str, Any]) -> None:
        """One media message from the browser (untrusted: checked before anything is sent)."""
        async with self._lock:
            if self._closed:
                return
            try:
                await self._dispatch(message)
            except Invalid:
                await self._emit({"op": "error", "reason": "invalid"})
            except _JanusRefused as refused:
                log.info("Janus refused %r in room %s: %s", message.get("op"), self.room_id, refused.code)
                await self._emit({"op": "error", "reason": JANUS_REASONS.get(refused.code, "failed")})
            except _JanusDown:
                await self._emit({"op": "error", "reason": "unavailable"})

    async def _dispatch(self, message: dict[str, Any]) -> None:
        if not isinstance(message, dict):
            raise Invalid("message")
        op = message.get("op")
        if op == "leave":
            await self._leave()
            return
        if op not in {"join", "publish", "configure", "unpublish", "subscribe", "answer", "trickle"}:
            raise Invalid("op")
        # every value is checked before the first request to Janus
        if op == "publish":
            jsep, display = _jsep(message, "offer"), _display(message)
            audio, video = _flag(message, "audio"), _flag(message, "video")
            await self._join()
            await self._publish(jsep, display, audio, video)
        elif op == "configure":
            audio, video = _flag(message, "audio"), _flag(message, "video")
            await self._join()
            await self._configure(audio, video)
        elif op == "unpublish":
            await self._join()
            await self._unpublish()
        elif op == "subscribe":
            feeds = _feeds(message)
            await self._join()
            await self._subscribe(feeds)
        elif op == "answer":
            jsep = _jsep(message, "answer")
            if self._subscriber_handle is None:
                raise Invalid("answer")
            await self._message(self._subscriber_handle, {"request": "start"}, jsep)
        elif op == "trickle":
            target, candidate = _target(message), _candidate(message)
            handle = self._room_handle if target == "publisher" else self._subscriber_handle
            if handle is None:
                raise Invalid("trickle")
            await self._post(self._handle_url(handle), {"janus": "trickle", "candidate": candidate})
        else:
            await self._join()

    # --- Janus requests ---------------------------------------------------------------------------
    async def _post(self, url: str, payload: dict[str, Any]) -> dict[str, Any]:
        if self._session is None:  # _open made it
            raise _JanusDown
        return await self._session.post(url, payload)

    def _handle_url(self, handle: int) -> str:
        return f"{self._session.url if self._session else ''}/{handle}"

    async def _message(self, handle: int, body: dict[str, Any], jsep: dict[str, str] | None = None) -> None:
        payload: dict[str, Any] = {"janus": "message", "body": body}
        if jsep is not None:
            payload["jsep"] = jsep
        answer = await self._post(self._handle_url(handle), payload)
        # requests the plugin answers at once (it refused before queueing) carry the error here
        data = answer.get("plugindata", {}).get("data", {})
        if data.get("error_code"):
            raise _JanusRefused(int(data["error_code"]))

    async def _attach(self) -> int:
        if self._session is None:  # _open made it
            raise _JanusDown
        return await self._session.attach(self._events.put_nowait)

    async def _open(self) -> None:
        if self._session is None:
            self._session = _session(self.janus)
            self._worker = asyncio.create_task(self._work(), name="janus-events")
        await self._session.open()

    async def _join(self) -> None:
        await self._open()
        if self._room_handle is not None:
            return
        self._room_handle = await self._attach()
        # A participant who does not publish yet: sees who is on stage, and may go on stage later.
        body = {"request": "join", "ptype": "publisher", "room": self.room_id}
        await self._message(self._room_handle, body)

    async def _publish(
        self, jsep: dict[str, str], display: str, audio: bool | None, video: bool | None
    ) -> None:
        if self._room_handle is None:  # _join made it
            raise _JanusDown
        self._publishes += 1
        await self._message(self._room_handle, {"request": "publish", "display": display}, jsep)
        self._publishing = True
        if audio is False or video is False:
            await self._configure(audio, video)

    async def _configure(self, audio: bool | None, video: bool | None) -> None:
        if not self._publishing or self._room_handle is None:
            await self._emit({"op": "error", "reason": "not_publishing"})
            return
        streams = [
            {"mid": mid, "send": send}
            for mid, send in ((rooms.AUDIO_MID, audio), (rooms.VIDEO_MID, video))
            if send is not None
        ]
        if streams:
            await self._message(self._room_handle, {"request": "configure", "streams": streams})

    async def _unpublish(self) -> None:
        if not self._publishing or self._room_handle is None:
            await self._emit({"op": "error", "reason": "not_publishing"})
            return
        self._unpublishes.append(self._publishes)
        try:
            await self._message(self._room_handle, {"request": "unpublish"})
        except (_JanusDown, _JanusRefused):
            self._unpublishes.pop()
            raise

    def _confirms_an_earlier_connection(self) -> bool:
        """Janus confirms the oldest unpublish the page asked for: True when the page has
        published again since. Janus answers in order, but the page may publish anew before
        the confirmation arrives (it drops its connection at once); the confirmation then
        concerns the connection before, and passed on it would make the page drop its new one."""
        return bool(self._unpublishes) and self._unpublishes.popleft() != self._publishes

    async def _subscribe(self, feeds: list[int]) -> None:
        """Watch the feeds on stage now; remember the others (a page may learn of a feed before
        Janus announces it here) and watch them when Janus does. Only announced feeds are ever
        asked of Janus."""
        wanted = [feed for feed in feeds if feed not in self._subscribed and feed != self._participant_id]
        self._wanted.update(feed for feed in wanted if feed not in self._on_stage)
        if len(self._wanted) > MAX_WANTED:
            self._wanted.clear()
            raise Invalid("feeds")
        await self._subscribe_now([feed for feed in wanted if feed in self._on_stage])

    async def _subscribe_now(self, feeds: list[int]) -> None:
        if not feeds:
            return
        self._wanted.difference_update(feeds)
        streams = [{"feed": feed} for feed in feeds]
        if self._subscriber_handle is None:
            self._subscriber_handle = await self._attach()
            body: dict[str, Any] = {
                "request": "join",
                "ptype": "subscriber",
                "room": self.room_id,
                "streams": streams,
            }
            if self._private_id is not None:
                body["private_id"] = self._private_id
            await self._message(self._subscriber_handle, body)
        else:
            await self._message(self._subscriber_handle, {"request": "subscribe", "streams": streams})
        self._subscribed.update(feeds)

    async def _detach(self, handle: int | None) -> None:
        if handle is not None and self._session is not None:
            await self._session.detach(handle)

    async def _leave(self) -> None:
        room, subscriber = self._room_handle, self._subscriber_handle
        self._room_handle = self._subscriber_handle = None
        self._reset()
        await asyncio.gather(self._detach(subscriber), self._detach(room))

    def _reset(self) -> None:
        self.feed_id = self._participant_id = self._private_id = None
        self._on_stage.clear()
        self._subscribed.clear()
        self._wanted.clear()
        self._publishing = False
        self._unpublishes.clear()

    # --- Janus's events -------------------------------------------------------------------------
    async def _emit(self, event: dict[str, Any]) -> None:
        try:
            await self.on_event(event)
        except Exception:  # the socket went away meanwhile: its close() follows
            log.debug("media event not delivered", exc_info=True)

    async def _work(self) -> None:
        """Janus's events for our handles, one after the other."""
        while not self._closed:
            event = await self._events.get()
            if event is LOST:
                if not self._closed:
                    await self._emit({"op": "error", "reason": "unavailable"})
                return
            try:
                await self._on_janus_event(event)
            except Exception:  # one odd event must not end the page's media
                log.exception("Janus event not handled in room %s", self.room_id)

    async def _on_janus_event(self, event: dict[str, Any]) -> None:
        if event.get("janus") != "event":
            return  # webrtcup, media, hangup, slowlink, keepalive: nothing for the browser
        data = event.get("plugindata", {}).get("data", {})
        if not isinstance(data, dict):
            return
        sender = event.get("sender")
        jsep = event.get("jsep")
        if sender is not None and sender == self._subscriber_handle:
            await self._on_subscriber_event(data, jsep)
        elif sender is not None and sender == self._room_handle:
            await self._on_room_event(data, jsep)

    async def _on_room_event(self, data: dict[str, Any], jsep: Any) -> None:
        kind = data.get("videoroom")
        if kind == "joined":
            self._participant_id = int(data["id"])
            self._private_id = data.get("private_id")
            await self._announce(data.get("publishers", []), always=True)
        elif kind == "destroyed":
            self._reset()
            await self._emit({"op": "error", "reason": "room_closed"})
        elif kind == "event":
            if data.get("error_code") == NOT_PUBLISHED:
                # The page hung up its connection with the unpublish: Janus unpublished on the
                # hang-up already. Off stage is what was asked for.
                if self._confirms_an_earlier_connection():
                    return
                self._publishing = False
                self.feed_id = None
                await self._emit({"op": "unpublished"})
                return
            if "error_code" in data:
                code = int(data["error_code"])
                log.info("Janus refused in room %s: %s %s", self.room_id, code, data.get("error"))
                if code in {426, 432}:
                    self._publishing = False
                await self._emit({"op": "error", "reason": JANUS_REASONS.get(code, "failed")})
                return
            if data.get("publishers"):
                await self._announce(data["publishers"], always=False)
            if data.get("configured") == "ok" and isinstance(jsep, dict) and jsep.get("type") == "answer":
                self.feed_id = self._participant_id
                await self._emit({"op": "published", "jsep": jsep, "feed": self.feed_id})
            gone = data.get("unpublished", data.get("leaving"))
            if gone == "ok":
                if "leaving" in data:  # we were removed from the room
                    self._reset()
                    await self._emit({"op": "error", "reason": "removed"})
                elif not self._confirms_an_earlier_connection():
                    self._publishing = False
                    self.feed_id = None
                    await self._emit({"op": "unpublished"})
            elif isinstance(gone, int) and gone in self._on_stage:
                del self._on_stage[gone]
                self._subscribed.discard(gone)
                self._wanted.discard(gone)
                await self._emit({"op": "left", "feed": gone})

    async def _announce(self, publishers: Any, *, always: bool) -> None:
        new: list[int] = []
        for publisher in publishers if isinstance(publishers, list) else []:
            feed = publisher.get("id") if isinstance(publisher, dict) else None
            if isinstance(feed, int) and feed != self._participant_id:
                self._on_stage[feed] = str(publisher.get("display") or "")
                new.append(feed)
        if new or always:
            feeds = [{"id": feed, "display": self._on_stage[feed]} for feed in new]
            await self._emit({"op": "publishers", "feeds": feeds})
        due = [feed for feed in new if feed in self._wanted]
        if due:
            async with self._lock:  # not while a browser message is on its way to Janus
                if not self._closed:
                    try:
                        await self._subscribe_now(due)
                    except (_JanusDown, _JanusRefused):
                        await self._emit({"op": "error", "reason": "failed"})

    async def _on_subscriber_event(self, data: dict[str, Any], jsep: Any) -> None:
        if "error_code" in data:
            log.info("Janus refused a subscription in room %s: %s", self.room_id, data.get("error"))
            await self._emit({"op": "error", "reason": JANUS_REASONS.get(int(data["error_code"]), "failed")})
            return
        if isinstance(jsep, dict) and jsep.get("type") == "offer":
            streams = [
                {
                    "mid": stream.get("mid"),
                    "feed": stream.get("feed_id"),
                    "display": stream.get("feed_display", ""),
                    "kind": stream.get("type"),
                }
                for stream in data.get("streams", [])
                if isinstance(stream, dict) and stream.get("active", True) and stream.get("type") != "data"
            ]
            await self._emit({"op": "offer", "jsep": jsep, "streams": streams})

    # --- the end -----------------------------------------------------------------------------------
    async def close(self) -> None:
        """The socket closed: leave Janus (detaching the handles hangs up and leaves the room)."""
        async with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._worker is not None:
                self._worker.cancel()
            if self._session is None:
                return
            await self._leave()
            if self._worker is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await self._worker
            session, self._session = self._session, None
            await session.release()
