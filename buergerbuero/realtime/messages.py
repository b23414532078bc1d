"""Parsing what browsers send over our sockets: anything malformed becomes an empty message."""

from __future__ import annotations

import json
from typing import Any

MAX_MESSAGE_BYTES = 16_384


def parse(text_data: str | None, limit: int = MAX_MESSAGE_BYTES) -> dict[str, Any]:
    if not text_data or len(text_data) > limit:
        return {}
    try:
        message = json.loads(text_data)
    except ValueError:
        return {}
    return message if isinstance(message, dict) else {}
