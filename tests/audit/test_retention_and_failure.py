"""Pruning after the retention period, and that a failing audit write never fails the action."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import DatabaseError
from django.urls import reverse
from django.utils import timezone

from buergerbuero.audit.models import Action, AuditEntry
from buergerbuero.audit.services import prune_audit, record
from buergerbuero.jobs.registry import JOBS
from buergerbuero.offices.models import Office
from buergerbuero.waiting.models import PresenceState, Ticket, TicketStatus
from buergerbuero.waiting.services import joining, staffing
from tests.audit.conftest import OPEN, logged_in

pytestmark = pytest.mark.django_db


def aged(days: float) -> AuditEntry:
    entry = record(Action.LOGIN_FAILED, actor_name="x")
    assert entry is not None
    AuditEntry.objects.filter(pk=entry.pk).update(at=timezone.now() - dt.timedelta(days=days))
    return entry


def test_entries_older_than_the_retention_are_pruned(settings: Any) -> None:
    settings.AUDIT_RETENTION_DAYS = 30
    old, recent = aged(30.01), aged(29.9)

    assert prune_audit() == 1

    assert list(AuditEntry.objects.values_list("pk", flat=True)) == [recent.pk]
    assert not AuditEntry.objects.filter(pk=old.pk).exists()


def test_the_default_retention_is_the_longer_of_consultations_and_appointments() -> None:
    from django.conf import settings

    assert (
        max(settings.CONSULTATION_RETENTION_DAYS, settings.APPOINTMENT_RETENTION_DAYS)
        == settings.AUDIT_RETENTION_DAYS
    )


def test_pruning_runs_as_a_background_job() -> None:
    assert any(job.name == "prune_audit" and job.run is prune_audit for job in JOBS)


@pytest.fixture
def broken_audit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every audit write fails in the database."""

    def fail(*args: Any, **kwargs: Any) -> None:
        raise DatabaseError("audit table unavailable")

    monkeypatch.setattr(AuditEntry.objects, "create", fail)


@pytest.mark.usefixtures("broken_audit")
def test_a_failing_audit_write_does_not_fail_a_console_action(
    office: Office, agent: User, caplog: pytest.LogCaptureFixture
) -> None:
    staffing.set_presence(agent.staff_member, PresenceState.PAUSE, now=OPEN)
    ticket = joining.join(office, service=None, display_name="Zofia", language="de", mode="chat", now=OPEN)

    response = logged_in(agent).post(reverse("waiting:remove", args=[ticket.pk]), {"no_show": "1"})

    assert response.status_code == 200
    assert Ticket.objects.get(pk=ticket.pk).status == TicketStatus.NO_SHOW
    assert not AuditEntry.objects.exists()
    assert "could not be written" in caplog.text


@pytest.mark.usefixtures("broken_audit")
def test_a_failing_audit_write_does_not_fail_a_login(agent: User) -> None:
    from django.test import Client

    response = Client().post(
        reverse("staff:login"), {"username": "agent", "password": "correct-horse-battery-staple"}
    )

    assert response.status_code == 302
    assert "_auth_user_id" in response.client.session


def test_a_failing_audit_write_inside_a_transaction_leaves_it_usable(agent: User) -> None:
    from django.db import transaction

    with transaction.atomic():
        assert record(Action.LOGIN, actor=agent, target="x" * 5000, details={"bad": object()}) is None
        assert User.objects.filter(pk=agent.pk).exists()  # the transaction still works
