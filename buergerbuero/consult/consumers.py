"""``/ws/consultations/<id>/``: chat, presence and WebRTC signalling inside one consultation.

Members are the citizen (``?ticket=`` token), the consultation's staff member (session) and an
invited interpreter (the cookie set when their invite link was claimed). Signalling messages
are validated and relayed only to the participant they are addressed to. A form filled in
together travels as ``form.*`` messages (rules and sync in ``consult.filling``); the first
message and the resync carry the open form's whole state.

Resync (Redis was down, see ``realtime.bridge``): events published meanwhile are lost — a chat
message, a document, the end of the consultation, the interpreter's removal, someone's
presence, signalling, a form's edits. Each socket then starts again from the database: a
consultation that ended (or an interpreter no longer invited) is told so and closed; otherwise
the page gets the messages, documents and the open form (it skips what it has; a field keeps
the newer of its versions) with the cue to renegotiate its peer connections (a lost offer,
answer or candidate would leave one half-negotiated), and every participant announces itself
again, so that a page that arrived during the outage is met.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import translation

from buergerbuero.consult import filling, services, signalling, turn
from buergerbuero.consult.models import Consultation, ParticipantRole
from buergerbuero.consult.services import Participant
from buergerbuero.realtime import events
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
    # How this socket identified itself (asked again on resync).
    consultation_id = 0
    token = ""
    interpreter_session = ""
    # Names this connection in presence events, so that a page can tell a late "offline" of
    # someone's previous connection from the end of their current one.
    connection_id = ""
    # The staff member's socket lives only as long as their login (logout, timeout).
    login_group: str | None = None
    _login_watch: asyncio.Task[None] | None = None
    kind = "consultation"  # size and rate limits: the base's (signalling needs them generous)
    language = "de"  # of the refusals this socket is sent
    # Form edits per socket: fast typing (and a paste) passes, a script flooding the form not.
    form_edits_per_second = 30.0
    form_edit_burst = 150.0
    form_edits: filling.EditAllowance

    async def connect(self) -> None:
        consultation_id = int(self.scope["url_route"]["kwargs"]["consultation_id"])
        query = parse_qs(self.scope.get("query_string", b"").decode("ascii", "ignore"))
        token = query.get("ticket", [""])[0]
        interpreter = self.scope.get("cookies", {}).get(services.interpreter_cookie(consultation_id), "")
        self.consultation_id, self.token, self.interpreter_session = consultation_id, token, interpreter
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
        self.language = filling.language_of(self.scope)
        self.form_edits = filling.EditAllowance(self.form_edits_per_second, self.form_edit_burst)
        await self.accept()
        self.listen(self.group)
        if self.login_group is not None:
            self.listen(self.login_group)
            self._login_watch = sockets.watch(self.scope, self._login_ended, activity=True)
        history, documents, form = await database_sync_to_async(self._contents)()
        await self.send(
            text_data=encode(
                {
                    "type": "history",
                    "role": self.who.role,
                    "messages": history,
                    "documents": documents,
                    "form": form,
                    "forms": await database_sync_to_async(self._forms_to_open)(),
                    "ice_servers": turn.ice_servers(f"{consultation_id}-{self.who.role}"),
                    "ice_transport_policy": settings.ICE_TRANSPORT_POLICY,
                }
            )
        )
        self.announce(online=True)

    def _identify_again(self) -> tuple[Participant | None, bool]:
        """This socket's participant now (None: no longer admitted), and whether the
        consultation is still open."""
        who = self._identify(self.consultation_id, self.token, self.interpreter_session)
        if who is not None:
            return who, who.consultation.is_open
        consultation = Consultation.objects.filter(pk=self.consultation_id).first()
        return None, consultation is not None and consultation.is_open

    def _contents(self) -> tuple[list[dict[str, object]], list[dict[str, object]], dict[str, object] | None]:
        assert self.who is not None  # noqa: S101
        consultation = self.who.consultation
        form = filling.current_state(consultation)
        return services.history(consultation), services.documents_of(consultation), form

    def _forms_to_open(self) -> list[dict[str, object]]:
        """The office's forms, for the staff member's “open a form” list."""
        if self.who is None or self.who.role != ParticipantRole.AGENT:
            return []
        return filling.forms_to_open(self.who.consultation)

    async def resync(self) -> None:
        """The event path was interrupted: start again from the database (see the top)."""
        before = self.who
        if before is None:
            return
        who, still_open = await database_sync_to_async(self._identify_again)()
        if self.who is None:  # ended meanwhile (logout)
            return
        if who is None or not still_open:
            removed = still_open and before.role == ParticipantRole.INTERPRETER
            gone = events.interpreter_removed() if removed else events.ended()
            await self.send(text_data=encode(gone))
            await self.disconnect(4403)
            self.who = None
            await self.close(code=4403)
            return
        self.who = who
        history, documents, form = await database_sync_to_async(self._contents)()
        await self.send(text_data=encode(events.resync(history, documents, form)))
        # A reply: whoever hears it keeps a working connection to us (or opens one), no storm.
        self.announce(online=True, reply=True)

    def announce(self, *, online: bool, reply: bool = False) -> None:
        if self.who is None:
            return
        publish_now(self.group, events.presence(self.who.role, online, self.connection_id, reply=reply))

    async def refuse_signal(self, code: str) -> None:
        """Tell the sender's page (not the person: the page's own fault) what was refused."""
        await self.send(text_data=encode(events.signal_refused(code)))

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

    async def deliver(self, group: str, kind: str, text: str) -> None:
        if self.who is None:
            return
        if self.login_group is not None and group == self.login_group:
            await self._login_ended()
            return
        if kind == events.SIGNAL:
            if parse(text, limit=MAX_SIGNAL_BYTES).get("to") == self.who.role:  # only for its addressee
                await super().deliver(group, kind, text)
            return
        await super().deliver(group, kind, text)
        if kind == events.INTERPRETER_REMOVED and self.who.role == ParticipantRole.INTERPRETER:
            await self.close(code=4403)
            return
        if kind != events.PRESENCE:
            return
        event = parse(text)
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
        if message.get("type") == events.SIGNAL:
            try:
                relay = signalling.validate(message, self.who.role)
            except signalling.BadSignal as refused:
                logger.warning("refused a signalling message in consultation %s: %s", self.group, refused)
                await self.refuse_signal("bad_signal")
                return
            publish_now(self.group, relay)
            return
        if message.get("type") in filling.FORM_MESSAGES:
            await self._form_message(message)
            return
        if message.get("type") != events.CHAT:
            return
        text = message.get("text")
        try:
            await database_sync_to_async(services.post_message)(
                self.who, text if isinstance(text, str) else ""
            )
        except services.ConsultError as refused:
            await self.send(text_data=encode(events.error(refused.message)))

    async def _form_message(self, message: dict[str, object]) -> None:
        """A form message (``consult.filling``): focus is relayed at once, the rest is carried
        out in the database; a refusal goes back to this socket only, in its language."""
        if self.who is None:
            return
        if message.get("type") == "form.focus":
            form, field = message.get("form"), message.get("field")
            if isinstance(form, int) and isinstance(field, str):
                filling.focus(self.who, form, field, self.connection_id)
            return
        allowed = message.get("type") != "form.edit" or self.form_edits.take()
        reply = await database_sync_to_async(self._form_receive)(message, allowed)
        if reply is not None:
            await self.send(text_data=encode(reply))

    def _form_receive(self, message: dict[str, object], allowed: bool) -> dict[str, object] | None:
        assert self.who is not None  # noqa: S101
        with translation.override(self.language):
            return filling.receive(self.who, message, edit_allowed=allowed)

    async def disconnect(self, code: int) -> None:
        sockets.stop(self._login_watch)
        if self.who is not None and self.group:
            self.stop_listening()
            self.announce(online=False)
