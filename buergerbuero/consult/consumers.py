"""``/ws/consultations/<id>/``: chat, presence and WebRTC signalling inside one consultation.

Members are the citizen (``?ticket=`` token), the consultation's staff member (session) and an
invited interpreter (the cookie set when their invite link was claimed). Signalling messages
are validated and relayed only to the participant they are addressed to.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.conf import settings

from buergerbuero.consult import services, signalling, turn
from buergerbuero.consult.models import ParticipantRole
from buergerbuero.consult.services import Participant
from buergerbuero.realtime.consumers import HubConsumer
from buergerbuero.realtime.messages import parse
from buergerbuero.realtime.publish import encode, publish_now
from buergerbuero.staff import sockets
from buergerbuero.staff.services import staff_member_of

logger = logging.getLogger(__name__)
MAX_SIGNAL_BYTES = 96 * 1024


class ConsultationConsumer(HubConsumer):
    who: Participant | None = None
    group = ""
    # Names this connection in presence events, so that a page can tell a late "offline" of
    # someone's previous connection from the end of their current one.
    connection_id = ""
    # The staff member's socket lives only as long as their login (logout, timeout).
    login_group: str | None = None
    _login_watch: asyncio.Task[None] | None = None
    kind = "consultation"  # size and rate limits: the base's (signalling needs them generous)

    async def connect(self) -> None:
        consultation_id = int(self.scope["url_route"]["kwargs"]["consultation_id"])
        query = parse_qs(self.scope.get("query_string", b"").decode("ascii", "ignore"))
        token = query.get("ticket", [""])[0]
        interpreter = self.scope.get("cookies", {}).get(services.interpreter_cookie(consultation_id), "")
        self.who = await database_sync_to_async(self._identify)(consultation_id, token, interpreter)
        if self.who is None or not self.who.consultation.is_open:
            await self.close(code=4403)
            return
        if self.who.role == ParticipantRole.AGENT:
            self.login_group = sockets.login_group(self.scope)
            # An open consultation counts as the staff member's activity (no idle timeout).
            if self.login_group is None or not await sockets.login_is_valid(self.scope, activity=True):
                self.who = None
                await self.close(code=4403)
                return
        self.group = services.consultation_group(consultation_id)
        self.connection_id = secrets.token_hex(6)
        await self.accept()
        self.listen(self.group)
        if self.login_group is not None:
            self.listen(self.login_group)
            self._login_watch = sockets.watch(self.scope, self._login_ended, activity=True)
        history = await database_sync_to_async(services.history)(self.who.consultation)
        documents = await database_sync_to_async(services.documents_of)(self.who.consultation)
        await self.send(
            text_data=encode(
                {
                    "type": "history",
                    "role": self.who.role,
                    "messages": history,
                    "documents": documents,
                    "ice_servers": turn.ice_servers(f"{consultation_id}-{self.who.role}"),
                    "ice_transport_policy": settings.ICE_TRANSPORT_POLICY,
                }
            )
        )
        self.announce(online=True)

    def announce(self, *, online: bool, reply: bool = False) -> None:
        if self.who is None:
            return
        event = {
            "type": "presence",
            "role": self.who.role,
            "online": online,
            "connection": self.connection_id,
        }
        publish_now(self.group, {**event, "reply": True} if reply else event)

    async def refuse_signal(self, code: str) -> None:
        """Tell the sender's page (not the person: the page's own fault) what was refused."""
        await self.send(text_data=encode({"type": "signal_refused", "code": code}))

    def _identify(self, consultation_id: int, token: str, interpreter: str) -> Participant | None:
        member = staff_member_of(self.scope["user"])
        return services.participant(
            consultation_id, token=token, member=member, interpreter_session=interpreter
        )

    async def _login_ended(self) -> None:
        """The staff member logged out or timed out: leave the consultation's stream."""
        if self.login_group is None:
            return
        self.login_group = None
        sockets.stop(self._login_watch)
        await self.disconnect(4403)
        self.who = None
        await self.close(code=4403)

    async def deliver(self, group: str, text: str) -> None:
        if self.who is None:
            return
        if self.login_group is not None and group == self.login_group:
            await self._login_ended()
            return
        if '"type":"signal"' in text:
            if json.loads(text).get("to") == self.who.role:  # only for its addressee
                await super().deliver(group, text)
            return
        await super().deliver(group, text)
        if '"type":"interpreter_removed"' in text and self.who.role == "interpreter":
            await self.close(code=4403)
            return
        if '"presence"' not in text:
            return
        event = json.loads(text)
        newcomer = event.get("online") and not event.get("reply") and event.get("role") != self.who.role
        if newcomer:  # tell them that we are here too
            self.announce(online=True, reply=True)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.who is None:
            return
        if text_data and len(text_data) > MAX_SIGNAL_BYTES:
            logger.warning("refused a %d-byte message in %s", len(text_data), self.group)
            await self.refuse_signal("too_large")
            return
        message = parse(text_data, limit=MAX_SIGNAL_BYTES)
        if message.get("type") == "signal":
            try:
                relay = signalling.validate(message, self.who.role)
            except signalling.BadSignal as refused:
                logger.warning("refused a signalling message in consultation %s: %s", self.group, refused)
                await self.refuse_signal("bad_signal")
                return
            publish_now(self.group, relay)
            return
        if message.get("type") != "chat":
            return
        text = message.get("text")
        try:
            await database_sync_to_async(services.post_message)(
                self.who, text if isinstance(text, str) else ""
            )
        except services.ConsultError as refused:
            await self.send(text_data=encode({"type": "error", "message": refused.message}))

    async def disconnect(self, code: int) -> None:
        sockets.stop(self._login_watch)
        if self.who is not None and self.group:
            self.stop_listening()
            self.announce(online=False)
