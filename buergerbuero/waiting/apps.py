from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WaitingConfig(AppConfig):
    name = "buergerbuero.waiting"
    verbose_name = _("Waiting rooms")
