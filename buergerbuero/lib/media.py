"""Public uploads (organisation logos, waiting-area images and videos): the only files we
serve to anyone, so none of them may ever become a page on our origin.

Three rules, each in one place here:

- **Checked by content and by name.** The type is read from the file's first bytes
  (``filetype``); it must be one of the allowed kinds, and the name's extension must agree
  with it (``foto.png`` holding a JPEG is refused, like a shared document). SVG is refused
  outright: it is a page that can carry script. Images must also open in Pillow.
- **Stored under a random name** (:class:`RandomName`): nothing of the uploader's name
  survives, the extension is the canonical one of the checked type.
- **Served with a type from the allow-list by extension** (:func:`served_type`), never
  ``text/html`` or SVG, by :mod:`buergerbuero.offices.media_views`.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

import filetype  # type: ignore[import-untyped]
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db.models import Model
from django.template.defaultfilters import filesizeformat
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext as _
from PIL import Image

# detected kind -> extensions a file of that kind may carry (the first is the stored one)
IMAGE_KINDS = {"png": ("png",), "jpg": ("jpg", "jpeg"), "webp": ("webp",)}
VIDEO_KINDS = {"mp4": ("mp4",), "webm": ("webm",)}
# extension -> the Content-Type we serve it with; nothing outside this list is ever served
SERVED_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "mp4": "video/mp4",
    "webm": "video/webm",
}
LOGO_MAX_BYTES = 1024 * 1024
IMAGE_MAX_BYTES = 2 * 1024 * 1024
VIDEO_MAX_BYTES = 40 * 1024 * 1024
SNIFF_BYTES = 8192


def extension_of(name: str) -> str:
    return PurePath(name).suffix.lower().lstrip(".")


def served_type(name: str) -> str | None:
    """The Content-Type a public file of this name is served with, or None: not served."""
    return SERVED_TYPES.get(extension_of(name))


def _looks_like_svg(name: str, head: bytes) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return extension_of(name) in {"svg", "svgz"} or text.startswith((b"<svg", b"<?xml")) or b"<svg" in text


def _check(upload: File[Any], kinds: Mapping[str, tuple[str, ...]], limit: int, refusal: str) -> None:
    """Refuse the upload unless it is of an allowed kind, named like it, within the limit."""
    if upload.size is not None and upload.size > limit:
        raise ValidationError(
            _("The file is too large (at most %(limit)s).") % {"limit": filesizeformat(limit)}
        )
    upload.seek(0)
    head = upload.read(SNIFF_BYTES)
    upload.seek(0)
    name = upload.name or ""
    if _looks_like_svg(name, head):
        raise ValidationError(
            _("SVG images are not accepted, because they can contain scripts. %(allowed)s")
            % {"allowed": refusal}
        )
    kind = filetype.guess(head)
    if kind is None or kind.extension not in kinds:
        raise ValidationError(refusal)
    if extension_of(name) not in kinds[kind.extension]:
        raise ValidationError(_("The file's name does not match its content. Please check the file."))


def _check_image(upload: File[Any], limit: int) -> None:
    refusal = _("Please upload a PNG, JPEG or WebP image.")
    _check(upload, IMAGE_KINDS, limit, refusal)
    try:
        with Image.open(upload) as image:
            image.verify()
    except Exception:  # Pillow raises many types for a broken file
        raise ValidationError(refusal) from None
    finally:
        upload.seek(0)


def _is_new(upload: File[Any]) -> bool:
    """Only a new upload is judged: a stored file was judged when it came (and re-reading it
    on every save would fail for a file that has gone missing from the disk)."""
    return not getattr(upload, "_committed", False)


def validate_logo(upload: File[Any]) -> None:
    if _is_new(upload):
        _check_image(upload, LOGO_MAX_BYTES)


def validate_waiting_image(upload: File[Any]) -> None:
    if _is_new(upload):
        _check_image(upload, IMAGE_MAX_BYTES)


def validate_waiting_video(upload: File[Any]) -> None:
    if _is_new(upload):
        _check(upload, VIDEO_KINDS, VIDEO_MAX_BYTES, _("Please upload an MP4 or WebM video."))


def stored_extension(name: str) -> str:
    """The canonical extension for a checked file's name (``jpeg`` -> ``jpg``); ``bin`` (never
    served) for anything outside the allow-list, so an unchecked file cannot be served."""
    extension = extension_of(name)
    for allowed in (*IMAGE_KINDS.values(), *VIDEO_KINDS.values()):
        if extension in allowed:
            return allowed[0]
    return "bin"


@deconstructible
class RandomName:
    """``upload_to`` for public files: ``<folder>/<random>.<ext>``.

    The validators above ran before the file is saved (every form runs them) and made sure the
    name's extension agrees with the content, so the extension kept here is the content's.
    """

    def __init__(self, folder: str) -> None:
        self.folder = folder.strip("/")

    def __call__(self, instance: Model, filename: str) -> str:
        return f"{self.folder}/{secrets.token_urlsafe(16)}.{stored_extension(filename)}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RandomName) and other.folder == self.folder

    def __hash__(self) -> int:
        return hash(self.folder)
