"""ICE servers for a consultation's members: STUN, and TURN with time-limited credentials.

coturn's REST-API scheme (``use-auth-secret``): username ``"<expiry unix time>:<id>"``,
credential ``base64(HMAC-SHA1(secret, username))``. coturn refuses it after the expiry, so a
leaked credential is worth little, and we never store one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

from django.conf import settings


def turn_credentials(user_id: str, now: float | None = None) -> tuple[str, str]:
    expiry = int((now if now is not None else time.time()) + settings.TURN_CREDENTIAL_TTL)
    username = f"{expiry}:{user_id}"
    digest = hmac.new(settings.TURN_SECRET.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def ice_servers(user_id: str) -> list[dict[str, Any]]:
    """What RTCPeerConnection needs. Without TURN configured (embedded default), calls on a
    LAN and on localhost work with host candidates alone."""
    servers: list[dict[str, Any]] = []
    if settings.STUN_URLS:
        servers.append({"urls": settings.STUN_URLS})
    if settings.TURN_URLS and settings.TURN_SECRET:
        username, credential = turn_credentials(user_id)
        servers.append({"urls": settings.TURN_URLS, "username": username, "credential": credential})
    return servers
