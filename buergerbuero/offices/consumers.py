from __future__ import annotations

import asyncio
import random
from typing import Any

from channels.db import database_sync_to_async
from django.utils import timezone, translation

from buergerbuero.offices import services
from buergerbuero.offices.models import Office
from buergerbuero.orgs.models import Organization
from buergerbuero.realtime import events
from buergerbuero.realtime.consumers import HubConsumer
from buergerbuero.realtime.messages import parse
from buergerbuero.realtime.publish import encode
from buergerbuero.waiting.services.groups import directory_group
from buergerbuero.waiting.services.live_figures import office_live

RESYNC_SPREAD_SECONDS = 5.0


class DirectoryStatusConsumer(HubConsumer):
    """Live status of an organisation's offices: opening status, free seats, people waiting.

    Sends a snapshot on connect and whenever the page asks (it asks at the ``next_change_at``
    the snapshot names, so “closes in 10 minutes” stays true without polling); queue changes
    arrive as they happen through the hub.
    """

    max_message_bytes = 1024
    messages_per_second = 2.0
    message_burst = 10.0
    kind = "directory"
    _hours: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        self.org_slug: str = self.scope["url_route"]["kwargs"]["org_slug"]
        self.language = _language_of(self.scope)
        organization = await database_sync_to_async(Organization.objects.filter(slug=self.org_slug).first)()
        if organization is None:
            await self.close(code=4404)
            return
        self.organization = organization
        await self.accept()
        self.listen(directory_group(organization.pk))
        await self._send_snapshot()

    async def _send_snapshot(self) -> None:
        await self.send(text_data=encode(await database_sync_to_async(self._snapshot)()))

    def _snapshot(self) -> dict[str, Any]:
        offices = services.offices_with_hours(Office.objects.filter(organization=self.organization))
        now = timezone.now()
        with translation.override(self.language):
            return {
                "type": "status",
                "offices": [
                    {**item.as_json(), **office_live(item.office, now).as_json()}
                    for item in services.overviews(offices, now)
                ],
            }

    async def deliver(self, group: str, kind: str, text: str) -> None:
        if kind == events.HOURS_CHANGED:
            # Opened or closed on the spot: a fresh status in the page's language (in a task,
            # spread like a resync: the hub's delivery must not wait for queries).
            self._hours = asyncio.create_task(self.resync())
            return
        await super().deliver(group, kind, text)

    async def resync(self) -> None:
        # Directory pages are many and their snapshot costs the most: spread them out.
        await asyncio.sleep(random.uniform(0, RESYNC_SPREAD_SECONDS))  # noqa: S311
        await self._send_snapshot()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if parse(text_data).get("type") == "refresh":
            await self._send_snapshot()


def _language_of(scope: dict[str, Any]) -> str:
    """The language the page was rendered in: the query string's ``lang``, else German."""
    query = scope.get("query_string", b"").decode("ascii", "ignore")
    for part in query.split("&"):
        key, _, value = part.partition("=")
        if key == "lang" and translation.check_for_language(value):
            return str(value)
    return "de"
