"""Request bodies beyond the limit are refused before anyone reads them.

Django spools a body to disk before authentication, CSRF or a view's own size check run; a
300 MB body would be written in full. :class:`BodySizeLimit` sits in front of Django in the
ASGI stack: a declared ``Content-Length`` above the limit gets ``413`` at once (the body is
never read), and a body of unknown length (chunked) is cut off as soon as the bytes received
pass the limit. The limit (:func:`request_max_bytes`) is ``REQUEST_MAX_BYTES`` or, by default,
the largest legitimate upload plus a margin for the form around it.
"""

from __future__ import annotations

import html
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation.trans_real import parse_accept_lang_header

from buergerbuero.lib import media

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[..., Awaitable[None]]  # Django's handler and Channels' apps type their arguments differently

MARGIN = 1024 * 1024  # multipart boundaries and the other fields of the form around a file


def largest_upload() -> int:
    """The largest file anyone may legitimately send: a document, a waiting-area medium or an
    office's fillable PDF form."""
    return max(
        settings.DOCUMENT_MAX_BYTES,
        settings.FORM_PDF_MAX_BYTES,
        media.VIDEO_MAX_BYTES,
        media.IMAGE_MAX_BYTES,
        media.LOGO_MAX_BYTES,
    )


def request_max_bytes() -> int:
    """``REQUEST_MAX_BYTES`` when set (> 0), else the largest upload plus :data:`MARGIN`."""
    configured = int(settings.REQUEST_MAX_BYTES)
    return configured if configured > 0 else largest_upload() + MARGIN


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return ""


def _language(scope: Scope) -> str:
    """The page's language as LocaleMiddleware would choose it: cookie, then browser."""
    cookies = [part.strip().partition("=") for part in _header(scope, b"cookie").split(";")]
    accepted = parse_accept_lang_header(_header(scope, b"accept-language")[:255])
    wanted = [
        *(value for key, _sep, value in cookies if key == settings.LANGUAGE_COOKIE_NAME),
        *(code for code, _quality in accepted),
    ]
    for code in wanted:
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return str(settings.LANGUAGE_CODE)


async def refuse(scope: Scope, send: Send, shown_limit: int) -> None:
    """413 with a short message in the person's language: HTML for a page, JSON for scripts."""
    language = _language(scope)
    with translation.override(language):
        message = _("The file is too large (at most %(limit)s).") % {"limit": filesizeformat(shown_limit)}
    if "text/html" in _header(scope, b"accept"):
        body = (
            f'<!doctype html><html lang="{language}"><meta charset="utf-8">'
            f"<title>413</title><p>{html.escape(message)}</p></html>"
        ).encode()
        content_type = b"text/html; charset=utf-8"
    else:
        body = json.dumps({"error": message}).encode()
        content_type = b"application/json"
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(body)).encode()),
                (b"x-content-type-options", b"nosniff"),
                # the rest of the body is not read: the connection cannot carry another request
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodySizeLimit:
    """ASGI middleware for the HTTP app: bodies above ``max_bytes`` never reach it."""

    def __init__(self, app: App, max_bytes: int, shown_limit: int | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.shown_limit = shown_limit if shown_limit is not None else max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await refuse(scope, send, self.shown_limit)
            return
        received = 0
        started = False
        refused = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] != "http.request" or refused:
                return message
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                # The app is still reading: answer for it and tell it the client went away.
                refused = True
                if not started:
                    await refuse(scope, send, self.shown_limit)
                return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:  # we have answered already
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, limited_receive, guarded_send)
