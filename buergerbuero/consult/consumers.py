"""``/ws/consultations/<id>/``: chat and presence inside one consultation, for its two members."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

from channels.db import database_sync_to_async

from buergerbuero.consult import services
from buergerbuero.consult.services import Participant
from buergerbuero.realtime.consumers import HubConsumer
from buergerbuero.realtime.messages import parse
from buergerbuero.realtime.publish import encode, publish_now
from buergerbuero.staff.services import staff_member_of
from buergerbuero.waiting.services import QueueError


class ConsultationConsumer(HubConsumer):
    who: Participant | None = None
    group = ""

    async def connect(self) -> None:
        consultation_id = int(self.scope["url_route"]["kwargs"]["consultation_id"])
        token = parse_qs(self.scope.get("query_string", b"").decode("ascii", "ignore")).get("ticket", [""])[0]
        self.who = await database_sync_to_async(self._identify)(consultation_id, token)
        if self.who is None or not self.who.consultation.is_open:
            await self.close(code=4403)
            return
        self.group = services.consultation_group(consultation_id)
        await self.accept()
        self.listen(self.group)
        history = await database_sync_to_async(services.history)(self.who.consultation)
        await self.send(text_data=encode({"type": "history", "role": self.who.role, "messages": history}))
        publish_now(self.group, {"type": "presence", "role": self.who.role, "online": True})

    def _identify(self, consultation_id: int, token: str) -> Participant | None:
        return services.participant(consultation_id, token=token, member=staff_member_of(self.scope["user"]))

    async def deliver(self, group: str, text: str) -> None:
        await super().deliver(group, text)
        if self.who is None or '"presence"' not in text:
            return
        event = json.loads(text)
        newcomer = event.get("online") and not event.get("reply") and event.get("role") != self.who.role
        if newcomer:  # tell them that we are here too
            publish_now(
                self.group, {"type": "presence", "role": self.who.role, "online": True, "reply": True}
            )

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        message = parse(text_data)
        if message.get("type") != "chat" or self.who is None:
            return
        text = message.get("text")
        try:
            await database_sync_to_async(services.post_message)(
                self.who, text if isinstance(text, str) else ""
            )
        except QueueError as refused:
            await self.send(text_data=encode({"type": "error", "message": refused.message}))

    async def disconnect(self, code: int) -> None:
        if self.who is not None and self.group:
            self.stop_listening()
            publish_now(self.group, {"type": "presence", "role": self.who.role, "online": False})
