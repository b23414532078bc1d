"""Serving public uploads (``/media/branding/…``, ``/media/waiting/…``) so that none can run.

The type comes from the allow-list by extension (:func:`buergerbuero.offices.media.served_type`),
never from the file; anything else is a 404 — also uploads from before the random names whose
extension is not allowed. Every answer says ``nosniff`` and carries a sandboxing policy, so
even a polyglot opened directly is an inert document without script, origin or framing.
Consultation documents never pass through here (they are only for members, as attachments).
"""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseNotModified
from django.utils.http import http_date
from django.views.decorators.http import require_safe
from django.views.static import was_modified_since

from buergerbuero.offices.media import IMAGE_KINDS, SERVED_TYPES, extension_of, served_type

# folder -> extensions served from it: logos are images only
FOLDERS = {
    "branding": {ext for names in IMAGE_KINDS.values() for ext in names},
    "waiting": set(SERVED_TYPES),
}
# one path segment of ordinary characters: no dot-segments, separators or hidden files
_NAME = re.compile(r"[^./\\\x00-\x1f][^/\\\x00-\x1f]{0,254}")
SANDBOX = "sandbox; default-src 'none'; frame-ancestors 'none'"
MAX_AGE = 24 * 3600


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


def secure(response: HttpResponse | FileResponse) -> None:
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = SANDBOX
    response["Cache-Control"] = f"public, max-age={MAX_AGE}"


@require_safe
def public_media(request: HttpRequest, folder: str, name: str) -> HttpResponse | FileResponse:
    path = public_file(folder, name)
    content_type = served_type(name)
    if path is None or content_type is None:
        raise Http404
    stat = path.stat()
    if not was_modified_since(request.headers.get("If-Modified-Since"), stat.st_mtime):
        not_modified = HttpResponseNotModified()
        secure(not_modified)
        return not_modified
    response = FileResponse(path.open("rb"), content_type=content_type)
    response["Last-Modified"] = http_date(stat.st_mtime)
    secure(response)
    return response
