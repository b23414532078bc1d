"""The one way services emit real-time events: ``publish(group, payload)``.

Events leave after the surrounding transaction commits (never for a rolled-back change),
serialised once; every subscriber of the group receives the same text.

Publishing never raises: the change is committed, and a request must not fail because the
messenger did (see ``bridge``). Without Redis the event goes to this process's sockets; with
Redis down it goes to them too, and every other process resyncs its sockets when its
subscription comes back.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.conf import settings
from django.db import transaction

from buergerbuero.realtime import bridge, events
from buergerbuero.realtime.events import Event
from buergerbuero.realtime.hub import hub

logger = logging.getLogger(__name__)


# Compact: the same text goes to every socket of a group. Nothing may depend on these (the
# consumers branch on the event's type, the snapshot splices at a marker): a test changes them.
SEPARATORS = (",", ":")


def encode(payload: Event | dict[str, Any] | str) -> str:
    return json.dumps(payload, separators=SEPARATORS, ensure_ascii=False)


def publish(group: str, payload: Event | dict[str, Any]) -> None:
    kind, text = events.type_of(payload), encode(payload)
    transaction.on_commit(lambda: _send(group, kind, text))


def publish_now(group: str, payload: Event | dict[str, Any]) -> None:
    """For events outside any transaction (a socket came or went): send at once."""
    _send(group, events.type_of(payload), encode(payload))


def _send(group: str, kind: str, text: str) -> None:
    try:
        if settings.REDIS_URL and bridge.publish(group, kind, text):
            return
        hub.deliver_from_any_thread(group, kind, text)
    except Exception:  # never fail the caller: its change is committed
        hub.stats.publish_failures += 1
        logger.exception("could not deliver an event of %s", group.split(":", 1)[0])
        return
    if settings.REDIS_URL:
        hub.stats.publish_failures += 1
