"""A deleted form (also one deleted with its office) takes its stored PDF with it, after the
commit: a rolled-back deletion keeps the file."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete

from buergerbuero.forms.models import FormTemplate


def _form_deleted(sender: type, instance: FormTemplate, **kwargs: Any) -> None:
    if instance.pdf:
        storage, name = instance.pdf.storage, instance.pdf.name
        transaction.on_commit(lambda: storage.delete(name))


def connect() -> None:
    post_delete.connect(_form_deleted, sender=FormTemplate, dispatch_uid="forms-delete-pdf")
