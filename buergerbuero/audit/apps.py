from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "buergerbuero.audit"
    verbose_name = _("Audit log")

    def ready(self) -> None:
        from buergerbuero.audit import signals

        signals.connect()
