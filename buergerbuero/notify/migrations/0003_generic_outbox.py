"""The outbox no longer points at appointments (1/3): each message gets its topic, organisation
and office; 0004 fills them from the appointment, 0005 removes the appointment. Three
migrations, because PostgreSQL refuses to alter a table with row changes pending in the same
transaction."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("notify", "0002_alter_notification_status"),
        ("offices", "0006_whole_day_interval"),
        ("orgs", "0004_logo_checked_random_name"),
    ]

    operations = [
        migrations.AddField(
            model_name="notification",
            name="topic",
            field=models.CharField(blank=True, db_index=True, max_length=80, verbose_name="about"),
        ),
        migrations.AddField(
            model_name="notification",
            name="office",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="notifications",
                to="offices.office",
            ),
        ),
        migrations.AddField(
            model_name="notification",
            name="organization",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="notifications",
                to="orgs.organization",
            ),
        ),
    ]
