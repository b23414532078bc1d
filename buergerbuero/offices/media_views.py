"""Serving public uploads (``/media/branding/…``, ``/media/waiting/…``) so that none can run.

The type comes from the allow-list by extension (:func:`buergerbuero.lib.media.served_type`),
never from the file; anything else is a 404 — also uploads from before the random names whose
extension is not allowed. Every answer says ``nosniff`` and carries a sandboxing policy, so
even a polyglot opened directly is an inert document without script, origin or framing.
Consultation documents never pass through here (they are only for members, as attachments).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

from django.conf import settings
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotModified,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.utils.http import http_date
from django.views.decorators.http import require_safe
from django.views.static import was_modified_since

from buergerbuero.lib.media import IMAGE_KINDS, SERVED_TYPES, extension_of, served_type

# folder -> extensions served from it: logos are images only
FOLDERS = {
    "branding": {ext for names in IMAGE_KINDS.values() for ext in names},
    "waiting": set(SERVED_TYPES),
}
# one path segment of ordinary characters: no dot-segments, separators or hidden files
_NAME = re.compile(r"[^./\\\x00-\x1f][^/\\\x00-\x1f]{0,254}")
SANDBOX = "sandbox; default-src 'none'; frame-ancestors 'none'"
MAX_AGE = 24 * 3600
_RANGE = re.compile(r"bytes=(?P<first>\d{0,18})-(?P<last>\d{0,18})")
CHUNK = 64 * 1024


def public_file(folder: str, name: str) -> Path | None:
    """The file under MEDIA_ROOT/<folder> that may be served for ``name``, or None."""
    if folder not in FOLDERS or not _NAME.fullmatch(name) or extension_of(name) not in FOLDERS[folder]:
        return None
    root = (Path(settings.MEDIA_ROOT) / folder).resolve()
    path = (root / name).resolve()
    # resolve() follows symlinks: a link pointing out of the folder is refused too
    if path.parent != root or not path.is_file():
        return None
    return path


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one range ``bytes=a-b`` / ``a-`` / ``-n`` asks for, as (first, last) inclusive;
    None for no range or one we answer with the whole file (several ranges, nonsense).
    Raises ValueError for a range that lies beyond the file (416)."""
    match = _RANGE.fullmatch((header or "").strip())
    if match is None or not (match["first"] or match["last"]):
        return None
    if not match["first"]:  # the last n bytes
        count = int(match["last"])
        if count == 0:
            raise ValueError(header)
        return max(size - count, 0), size - 1
    first = int(match["first"])
    last = min(int(match["last"]), size - 1) if match["last"] else size - 1
    if first >= size:
        raise ValueError(header)
    return (first, last) if first <= last else None


async def _part(path: Path, first: int, last: int) -> AsyncIterator[bytes]:
    """The bytes first..last of the file; read in a thread (an async iterator, so that Django
    serves it without a synchronous detour and its warning)."""
    stream = await asyncio.to_thread(path.open, "rb")
    try:
        await asyncio.to_thread(stream.seek, first)
        remaining = last - first + 1
        while remaining > 0:
            chunk = await asyncio.to_thread(stream.read, min(CHUNK, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk
    finally:
        stream.close()


def secure(response: HttpResponseBase) -> None:
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = SANDBOX
    response["Cache-Control"] = f"public, max-age={MAX_AGE}"


@require_safe
def public_media(request: HttpRequest, folder: str, name: str) -> HttpResponseBase:
    path = public_file(folder, name)
    content_type = served_type(name)
    if path is None or content_type is None:
        raise Http404
    stat = path.stat()
    modified = http_date(stat.st_mtime)
    response: HttpResponseBase
    if not was_modified_since(request.headers.get("If-Modified-Since"), stat.st_mtime):
        response = HttpResponseNotModified()
        secure(response)
        return response
    # Safari plays a video only from a server that answers byte ranges.
    wanted = request.headers.get("Range") if request.headers.get("If-Range", modified) == modified else None
    try:
        part = byte_range(wanted, stat.st_size)
    except ValueError:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{stat.st_size}"
    else:
        first, last = part or (0, stat.st_size - 1)
        response = StreamingHttpResponse(
            _part(path, first, last), status=200 if part is None else 206, content_type=content_type
        )
        response["Content-Length"] = str(last - first + 1)
        if part is not None:
            response["Content-Range"] = f"bytes {first}-{last}/{stat.st_size}"
    response["Accept-Ranges"] = "bytes"
    response["Last-Modified"] = modified
    secure(response)
    return response
