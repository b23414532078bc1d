"""Typed readers for environment variables.

Every setting comes from the environment through these helpers; nonsense fails loudly at
start-up instead of surfacing as a strange error later. A variable ``NAME_FILE`` that points
to a file is read instead of ``NAME`` (for secrets mounted by the deployment).
"""

from __future__ import annotations

import os
from pathlib import Path

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(RuntimeError):
    pass


def env_str(name: str, default: str = "") -> str:
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        return Path(file_path).read_text(encoding="utf-8").strip()
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name}={raw!r} is not a boolean (use true/false)")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def served_url() -> str:
    """The address ``manage.py serve`` listens on, as a browser on this machine reaches it.

    ``serve`` takes its host and port from ``HOST`` and ``PORT`` (``make run`` sets both), so
    a link built without a request (e-mails, SMS, calendar files sent by the background jobs)
    points where the server actually runs unless ``PUBLIC_URL`` says otherwise. Links built
    while answering a request use the request's own address (``build_absolute_uri``).
    """
    host = os.environ.get("HOST", "127.0.0.1").strip() or "127.0.0.1"
    port = env_int("PORT", 8000)
    if host in {"127.0.0.1", "0.0.0.0", "::", "::1"}:  # noqa: S104 - only the shown name
        host = "localhost"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"
