"""The outbox's move away from appointments keeps every message: rows written while the outbox
pointed at appointments get the appointment's topic, office and organisation (notify 0004)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from buergerbuero.booking.messages import topic
from buergerbuero.notify.models import Notification
from buergerbuero.offices.models import Service
from buergerbuero.staff.models import StaffMember
from tests.booking.conftest import make_appointment

BEFORE = ("notify", "0002_alter_notification_status")


def _migrate_notify(target: tuple[str, str] | None) -> MigrationExecutor:
    executor = MigrationExecutor(connection)
    leaf = executor.loader.graph.leaf_nodes("notify")[0]
    executor.migrate([target or leaf])
    return executor


@pytest.mark.django_db(transaction=True)
def test_messages_written_before_keep_their_appointment_as_topic_office_and_organisation(
    service: Service, agent_member: StaffMember
) -> None:
    appointment = make_appointment(service, agent_member, timezone.now() + dt.timedelta(days=2))
    other = make_appointment(service, agent_member, timezone.now() + dt.timedelta(days=3))
    executor = _migrate_notify(BEFORE)
    try:
        old_outbox = executor.loader.project_state([BEFORE]).apps.get_model("notify", "Notification")
        now = timezone.now()
        for number, about in enumerate([appointment, other, None]):
            old_outbox.objects.create(
                appointment_id=about.pk if about else None,
                channel="email",
                kind="booked",
                dedupe_key=f"migration-{number}",
                recipient=f"person{number}@example.org",
                body_text="Ihr Termin",
                next_attempt_at=now,
                created_at=now,
            )
    finally:
        _migrate_notify(None)

    rows = {row.dedupe_key: row for row in Notification.objects.all()}
    assert [
        (rows[f"migration-{number}"].topic, rows[f"migration-{number}"].office_id) for number in range(3)
    ] == [(topic(appointment.pk), service.office_id), (topic(other.pk), service.office_id), ("", None)]
    assert rows["migration-0"].organization_id == service.office.organization_id
    assert rows["migration-2"].organization_id is None
    assert rows["migration-1"].recipient == "person1@example.org"  # the message itself unchanged
