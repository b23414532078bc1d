"""The README's way through the demo admins' second factor: `manage.py demo_code <user>`."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from buergerbuero.demo.data import DEMO_PASSWORD


def demo_code(username: str) -> str:
    out = StringIO()
    call_command("demo_code", username, stdout=out)
    return out.getvalue().strip()


@pytest.mark.parametrize("username", ["admin.musterstadt", "admin.beispiel", "betrieb"])
def test_demo_admin_logs_in_with_the_printed_code(db: None, username: str) -> None:
    call_command("load_demo")
    client = Client()
    login = client.post(reverse("staff:login"), {"username": username, "password": DEMO_PASSWORD})
    assert login.status_code == 302
    assert client.get(reverse("admin:index"))["Location"].startswith(reverse("staff:verify"))

    code = demo_code(username)
    verified = client.post(reverse("staff:verify"), {"token": code, "next": "/admin/"})

    assert len(code) == 6
    assert verified.status_code == 302
    assert client.get(reverse("admin:index")).status_code == 200


def test_demo_code_is_only_for_demo_logins(db: None) -> None:
    call_command("load_demo")

    with pytest.raises(CommandError):
        demo_code("weber")
