from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SfuConfig(AppConfig):
    name = "buergerbuero.sfu"
    label = "sfu"
    verbose_name = _("Media server (Janus)")
