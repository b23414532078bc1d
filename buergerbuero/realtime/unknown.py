"""The last WebSocket route: any address no other route matches (``/ws/consultations/abc/``,
a slug with a NUL byte, a path of 5,000 characters) is closed with 4404 during the handshake.

Without it Channels' router raises “No route found”, which the server logs as an error and
answers like a crash.
"""

from __future__ import annotations

from channels.generic.websocket import AsyncWebsocketConsumer
from django.urls import re_path

NOT_FOUND = 4404


class UnknownAddressConsumer(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        await self.close(code=NOT_FOUND)


websocket_urlpatterns = [re_path(r"", UnknownAddressConsumer.as_asgi())]
