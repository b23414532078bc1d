from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FormsConfig(AppConfig):
    name = "buergerbuero.forms"
    label = "forms"
    verbose_name = _("Forms")

    def ready(self) -> None:
        from buergerbuero.forms import signals

        signals.connect()  # a deleted form's PDF goes too
