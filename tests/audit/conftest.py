"""Helpers of the audit-log tests: the entries of one action, and logged-in clients (an org
admin's with a passed second factor, which the admin site demands of them)."""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import User
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from buergerbuero.audit.models import AuditEntry

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
OPEN = dt.datetime(2026, 11, 26, 10, 0, tzinfo=BERLIN)  # a Thursday, 08:00–16:00 in the fixture office


@pytest.fixture
def clock() -> Iterator[Any]:
    with time_machine.travel(OPEN, tick=False) as traveller:
        yield traveller


def the_entry(action: str) -> AuditEntry:
    """The one entry of ``action`` (fails when there is none or more than one)."""
    entries = list(AuditEntry.objects.filter(action=action))
    assert len(entries) == 1, [(e.action, e.target) for e in AuditEntry.objects.all()]
    return entries[0]


def everything_recorded() -> str:
    """Every column of every entry as one text, to look for what must not be there."""
    rows = AuditEntry.objects.values()
    return json.dumps([{key: str(value) for key, value in row.items()} for row in rows], ensure_ascii=False)


def logged_in(user: User, address: str = "127.0.0.1") -> Client:
    client = Client(REMOTE_ADDR=address, headers={"accept-language": "de"})
    client.force_login(user)
    return client


def verified(user: User) -> Client:
    """A client whose session has passed the second factor (a confirmed TOTP app)."""
    client = logged_in(user)
    device = TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    session = client.session
    session["otp_device_id"] = device.persistent_id
    session.save()
    return client


def change_form_data(client: Client, url: str, **changes: str) -> dict[str, Any]:
    """The change form as the browser would submit it, with ``changes``."""
    response = client.get(url)
    context = response.context
    data: dict[str, Any] = {}
    form = context["adminform"].form
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if value is None:
            continue
        data[name] = (
            [str(v.pk) if hasattr(v, "pk") else str(v) for v in value]
            if isinstance(value, list | tuple)
            else ("on" if value is True else ("" if value is False else str(value)))
        )
    for formset in context["inline_admin_formsets"]:
        management = formset.formset.management_form
        for name in management.fields:
            data[f"{management.prefix}-{name}"] = management.initial.get(name, 0)
        for index, inline_form in enumerate(formset.formset.forms):
            for name, field in inline_form.fields.items():
                value = inline_form.initial.get(name, field.initial)
                if value is not None:
                    data[f"{formset.formset.prefix}-{index}-{name}"] = str(getattr(value, "pk", value))
    data.update(changes)
    return data
