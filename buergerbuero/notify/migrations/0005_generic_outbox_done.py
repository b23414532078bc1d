"""The outbox no longer points at appointments (3/3)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("notify", "0004_generic_outbox_data")]

    operations = [migrations.RemoveField(model_name="notification", name="appointment")]
