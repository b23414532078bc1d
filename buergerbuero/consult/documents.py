"""Which files may be shared in a consultation: decided by their content, not their name.

The type is read from the file's first bytes (``filetype``, a well-kept pure-Python sniffer);
the name's extension must agree with it, so that ``rechnung.pdf`` holding HTML or a script
is refused. Files are served only to members, as attachments, with the detected type.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import PurePath

import filetype  # type: ignore[import-untyped]
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

# detected extension -> extensions a file of that type may carry
ALLOWED = {
    "pdf": {"pdf"},
    "png": {"png"},
    "jpg": {"jpg", "jpeg"},
    "webp": {"webp"},
    "docx": {"docx"},
    "xlsx": {"xlsx"},
    "pptx": {"pptx"},
    "odt": {"odt"},
    "ods": {"ods"},
    "odp": {"odp"},
    "doc": {"doc"},
    "xls": {"xls"},
    "ppt": {"ppt"},
}
SNIFF_BYTES = 8192


class DocumentRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class CheckedDocument:
    name: str
    content_type: str
    size: int


def safe_name(name: str) -> str:
    """A file name safe for Content-Disposition and every file system; keeps umlauts."""
    name = unicodedata.normalize("NFC", PurePath(name.replace("\\", "/")).name)
    name = re.sub(r"[\x00-\x1f\x7f/\\:*?\"<>|]+", "_", name).strip(" .")
    return name[-120:] or "dokument"


def check(upload: UploadedFile) -> CheckedDocument:
    size = upload.size or 0
    if size == 0:
        raise DocumentRefused(_("The file is empty."))
    if size > settings.DOCUMENT_MAX_BYTES:
        raise DocumentRefused(
            _("The file is too large (at most %(limit)s).")
            % {"limit": filesizeformat(settings.DOCUMENT_MAX_BYTES)}
        )
    upload.seek(0)
    head = upload.read(SNIFF_BYTES)
    upload.seek(0)
    kind = filetype.guess(head)
    name = safe_name(upload.name or "")
    extension = PurePath(name).suffix.lower().lstrip(".")
    if kind is None or kind.extension not in ALLOWED:
        raise DocumentRefused(
            _("Only PDF files, images (PNG, JPEG, WebP) and office documents can be shared.")
        )
    if extension not in ALLOWED[kind.extension]:
        raise DocumentRefused(_("The file's name does not match its content. Please check the file."))
    return CheckedDocument(name=name, content_type=kind.mime, size=size)
