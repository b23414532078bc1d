"""Images and videos of a waiting area: checked by their content, served by us (no third
party), within a size limit."""

from __future__ import annotations

from typing import Any

import filetype  # type: ignore[import-untyped]
from django.core.exceptions import ValidationError
from django.core.files import File
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

IMAGE_TYPES = {"png", "jpg", "webp"}
VIDEO_TYPES = {"mp4", "webm"}
IMAGE_MAX_BYTES = 2 * 1024 * 1024
VIDEO_MAX_BYTES = 40 * 1024 * 1024


def _check(upload: File[Any], kinds: set[str], limit: int, refusal: str) -> None:
    if upload.size and upload.size > limit:
        raise ValidationError(
            _("The file is too large (at most %(limit)s).") % {"limit": filesizeformat(limit)}
        )
    upload.seek(0)
    kind = filetype.guess(upload.read(8192))
    upload.seek(0)
    if kind is None or kind.extension not in kinds:
        raise ValidationError(refusal)


def validate_waiting_image(upload: File[Any]) -> None:
    _check(upload, IMAGE_TYPES, IMAGE_MAX_BYTES, _("Please upload a PNG, JPEG or WebP image."))


def validate_waiting_video(upload: File[Any]) -> None:
    _check(upload, VIDEO_TYPES, VIDEO_MAX_BYTES, _("Please upload an MP4 or WebM video."))
