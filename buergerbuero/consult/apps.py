from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsultConfig(AppConfig):
    name = "buergerbuero.consult"
    verbose_name = _("Consultations")

    def ready(self) -> None:
        # The waiting room admits; the consultation app, standing above it, starts the consultation.
        from buergerbuero.consult.services import on_ticket_admitted
        from buergerbuero.waiting.services.seating import ticket_admitted

        ticket_admitted.connect(on_ticket_admitted, dispatch_uid="consult.start_consultation")
