from __future__ import annotations

import json
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils import timezone, translation

from buergerbuero.offices import services
from buergerbuero.offices.models import Office
from buergerbuero.orgs.models import Organization


class DirectoryStatusConsumer(AsyncJsonWebsocketConsumer):
    """Live status of an organisation's offices.

    Sends a snapshot on connect and whenever the page asks (it asks at the ``next_change_at``
    the snapshot names, so “closes in 10 minutes” stays true without polling).
    """

    async def connect(self) -> None:
        self.org_slug: str = self.scope["url_route"]["kwargs"]["org_slug"]
        self.language = _language_of(self.scope)
        snapshot = await self._snapshot()
        if snapshot is None:
            await self.close(code=4404)
            return
        await self.accept()
        await self.send_json(snapshot)

    @classmethod
    async def decode_json(cls, text_data: str) -> Any:
        try:
            return json.loads(text_data)
        except ValueError:
            return None  # ignored like any other message we do not know

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "refresh":
            snapshot = await self._snapshot()
            if snapshot is not None:
                await self.send_json(snapshot)

    @database_sync_to_async
    def _snapshot(self) -> dict[str, Any] | None:
        organization = Organization.objects.filter(slug=self.org_slug).first()
        if organization is None:
            return None
        offices = services.offices_with_hours(Office.objects.filter(organization=organization))
        with translation.override(self.language):
            return {
                "type": "status",
                "offices": [item.as_json() for item in services.overviews(offices, timezone.now())],
            }


def _language_of(scope: dict[str, Any]) -> str:
    """The language the page was rendered in: the query string's ``lang``, else German."""
    query = scope.get("query_string", b"").decode("ascii", "ignore")
    for part in query.split("&"):
        key, _, value = part.partition("=")
        if key == "lang" and translation.check_for_language(value):
            return str(value)
    return "de"
