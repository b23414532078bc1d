from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class EmbedConfig(AppConfig):
    name = "buergerbuero.embed"
    verbose_name = _("Embedding")

    def ready(self) -> None:
        from corsheaders.signals import check_request_enabled

        from buergerbuero.embed.cors import allow_embedding_origins

        check_request_enabled.connect(allow_embedding_origins, dispatch_uid="embedding-origins")
