"""The one way services emit real-time events: ``publish(group, payload)``.

Events leave after the surrounding transaction commits (never for a rolled-back change),
serialised once; every subscriber of the group receives the same text.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.db import transaction

from buergerbuero.realtime import bridge
from buergerbuero.realtime.hub import hub


def encode(payload: dict[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def publish(group: str, payload: dict[str, Any]) -> None:
    text = encode(payload)
    transaction.on_commit(lambda: _send(group, text))


def publish_now(group: str, payload: dict[str, Any]) -> None:
    """For events outside any transaction (a socket came or went): send at once."""
    _send(group, encode(payload))


def _send(group: str, text: str) -> None:
    if settings.REDIS_URL:
        bridge.publish(group, text)
    else:
        hub.deliver_from_any_thread(group, text)
