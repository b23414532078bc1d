"""ASGI entry point: HTTP through Django, WebSockets through Channels."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "buergerbuero.config.settings")
# Initialise Django (apps, models) before anything imports consumers.
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from buergerbuero.consult.routing import websocket_urlpatterns as consultation_sockets  # noqa: E402
from buergerbuero.offices.routing import websocket_urlpatterns as office_sockets  # noqa: E402
from buergerbuero.waiting.routing import websocket_urlpatterns as waiting_sockets  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter([*office_sockets, *waiting_sockets, *consultation_sockets]))
        ),
    }
)
