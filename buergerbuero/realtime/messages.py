"""Parsing what browsers send over our sockets: anything malformed becomes an empty message.

:func:`parse` never raises: a message that is too long, not JSON, not an object, or nested
deeper than any of ours (``[[[[…`` would otherwise make the JSON parser recurse until a
``RecursionError`` kills the consumer) is an empty message. The size of a frame is bounded
by the server as well (``WS_MAX_BYTES``, uvicorn's ``ws_max_size``).
"""

from __future__ import annotations

import json
from typing import Any

MAX_MESSAGE_BYTES = 16_384
# Our deepest message (a signalling message with its description or candidate) is 2 levels deep.
MAX_DEPTH = 20


def depth(value: Any) -> int:
    """How deeply ``value`` nests lists and objects (a scalar: 0), without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


def parse(text_data: str | None, limit: int = MAX_MESSAGE_BYTES) -> dict[str, Any]:
    if not text_data or len(text_data) > limit:
        return {}
    try:  # the C parser gives up with RecursionError at the interpreter's limit (~1000 levels)
        message = json.loads(text_data)
    except (ValueError, RecursionError):
        return {}
    if not isinstance(message, dict) or depth(message) > MAX_DEPTH:
        return {}
    return message
