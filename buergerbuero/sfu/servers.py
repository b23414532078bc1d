"""The Janus servers this installation uses, as the settings describe them.

``JANUS_SERVERS`` in the settings is a list of plain dicts (the settings module may not import
Django's machinery); :func:`janus_servers` builds it from the environment and :func:`server`
reads one back as a typed :class:`JanusServer`. Each server has a name (stored with an event:
an event's room lives on exactly one server), the URL of its Janus API (HTTP transport), the
API secret every request carries and the VideoRoom ``admin_key`` that creating a room needs.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import urlsplit

from buergerbuero.lib.env import ConfigError


@dataclass(frozen=True)
class JanusServer:
    name: str
    url: str  # the Janus API, e.g. http://127.0.0.1:8088/janus
    api_secret: str
    admin_key: str


def sfu_secret(secret_key: str, purpose: str) -> str:
    """A secret for Janus derived from Django's key: every process of one installation (web
    workers, the job worker) computes the same one, and no file has to be shared."""
    return hmac.new(secret_key.encode(), f"buergerbuero.sfu:{purpose}".encode(), hashlib.sha256).hexdigest()


def janus_servers(entries: list[str], *, api_secret: str, admin_key: str) -> list[dict[str, str]]:
    """``["name=http://host:port/janus", …]`` as the settings' list of server dicts."""
    servers: list[dict[str, str]] = []
    for entry in entries:
        name, separator, url = entry.partition("=")
        name, url = name.strip(), url.strip().rstrip("/")
        parts = urlsplit(url)
        if not separator or not name or parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ConfigError(f"JANUS_SERVERS entry {entry!r} is not name=http(s)://host:port/janus")
        if any(known["name"] == name for known in servers):
            raise ConfigError(f"JANUS_SERVERS names {name!r} twice")
        servers.append({"name": name, "url": url, "api_secret": api_secret, "admin_key": admin_key})
    return servers


class UnknownServer(LookupError):
    pass


def all_servers() -> list[JanusServer]:
    from django.conf import settings

    return [JanusServer(**entry) for entry in settings.JANUS_SERVERS]


def server(name: str) -> JanusServer:
    """The configured server of this name (an event keeps the name it was assigned)."""
    for candidate in all_servers():
        if candidate.name == name:
            return candidate
    raise UnknownServer(name)
