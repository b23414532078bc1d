"""Any change of an office's hours (rows, the office's own flags, the organisation's state or
time zone) or of its services replaces its hours version after the commit
(``services.hours_changed``)."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save

from buergerbuero.offices import services
from buergerbuero.offices.models import Closure, Office, OpeningInterval, Service, SpecialOpening
from buergerbuero.orgs.models import Organization


def _hour_row_changed(sender: type, instance: Any, **kwargs: Any) -> None:
    services.hours_changed_on_commit(instance.office_id)


def _office_changed(sender: type, instance: Office, **kwargs: Any) -> None:
    services.hours_changed_on_commit(instance.pk)


def _organization_changed(sender: type, instance: Organization, **kwargs: Any) -> None:
    office_ids = list(Office.objects.filter(organization=instance).values_list("pk", flat=True))
    if office_ids:
        services.hours_changed_on_commit(*office_ids)


def connect() -> None:
    # Services too: the enter form's fields are kept per process under the same version.
    for model in (OpeningInterval, SpecialOpening, Closure, Service):
        post_save.connect(_hour_row_changed, sender=model, dispatch_uid=f"hours-{model.__name__}-save")
        post_delete.connect(_hour_row_changed, sender=model, dispatch_uid=f"hours-{model.__name__}-delete")
    post_save.connect(_office_changed, sender=Office, dispatch_uid="hours-office-save")
    post_delete.connect(_office_changed, sender=Office, dispatch_uid="hours-office-delete")
    post_save.connect(_organization_changed, sender=Organization, dispatch_uid="hours-org-save")
