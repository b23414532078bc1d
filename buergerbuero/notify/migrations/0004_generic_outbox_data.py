"""The outbox no longer points at appointments (2/3): topic, organisation and office of every
existing message from its appointment."""

from typing import Any

from django.db import migrations


def from_appointments(apps: Any, schema_editor: Any) -> None:
    Notification = apps.get_model("notify", "Notification")
    for message in Notification.objects.filter(appointment__isnull=False).select_related(
        "appointment__office"
    ):
        appointment = message.appointment
        message.topic = f"appointment:{appointment.pk}"
        message.office_id = appointment.office_id
        message.organization_id = appointment.office.organization_id
        message.save(update_fields=["topic", "office", "organization"])


def to_appointments(apps: Any, schema_editor: Any) -> None:
    Notification = apps.get_model("notify", "Notification")
    for message in Notification.objects.filter(topic__startswith="appointment:"):
        message.appointment_id = int(message.topic.split(":")[1])
        message.save(update_fields=["appointment"])


class Migration(migrations.Migration):
    dependencies = [
        ("booking", "0003_whole_day_interval"),
        ("notify", "0003_generic_outbox"),
    ]

    operations = [migrations.RunPython(from_appointments, to_appointments)]
