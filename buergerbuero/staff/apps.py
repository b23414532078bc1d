from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StaffConfig(AppConfig):
    name = "buergerbuero.staff"
    verbose_name = _("Staff")

    def ready(self) -> None:
        from buergerbuero.orgs.admin_scope import set_member_lookup
        from buergerbuero.staff import signals  # noqa: F401  (connects the receivers)
        from buergerbuero.staff.current import current_member

        set_member_lookup(current_member)
