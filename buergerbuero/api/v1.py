"""The public read API under /api/v1/ with its OpenAPI schema at /api/v1/openapi.json.

No interactive documentation page: django-ninja's loads Swagger UI from a CDN, and no page of
ours requests anything from a third party.
"""

from __future__ import annotations

from ninja import NinjaAPI

from buergerbuero.api.offices import router as offices
from buergerbuero.events.api import router as events
from buergerbuero.stats.api import router as statistics

api = NinjaAPI(
    title="Virtuelles Bürgerbüro",
    version="1",
    description=(
        "Offices, opening hours, live status, free appointment times and public events of the organisations."
    ),
    urls_namespace="api-v1",
    docs_url=None,
)
api.add_router("", offices)
api.add_router("", statistics)  # buergerbuero/stats/api.py: open data, off by default
api.add_router("", events)  # buergerbuero/events/api.py: public events
