"""ASGI entry point: HTTP through Django, WebSockets through Channels."""

import gc
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "buergerbuero.config.settings")

from buergerbuero.lib.asgi_handler import get_asgi_application

# Initialise Django (apps, models) before anything imports consumers. The handler runs the
# middleware chain and the view in one thread hop (see buergerbuero.lib.asgi_handler).
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from buergerbuero.consult.routing import websocket_urlpatterns as consultation_sockets  # noqa: E402
from buergerbuero.events.routing import websocket_urlpatterns as event_sockets  # noqa: E402
from buergerbuero.lib.asgi_limits import BodySizeLimit, largest_upload, request_max_bytes  # noqa: E402
from buergerbuero.realtime.unknown import websocket_urlpatterns as unknown_sockets  # noqa: E402
from buergerbuero.waiting.routing import websocket_urlpatterns as waiting_sockets  # noqa: E402

application = ProtocolTypeRouter(
    {
        # Bodies above the limit are refused before Django spools them to disk.
        "http": BodySizeLimit(django_asgi_app, request_max_bytes(), shown_limit=largest_upload()),
        # Each route that needs the login (staff) or cookies (interpreters) wraps itself in
        # AuthMiddlewareStack; the citizens' many waiting-room sockets go without it.
        "websocket": AllowedHostsOriginValidator(
            URLRouter([*waiting_sockets, *consultation_sockets, *event_sockets, *unknown_sockets])
        ),
    }
)

# What is loaded by now (Django, the apps, their modules) lives as long as the process: moved
# out of the garbage collector's way, so that a full collection, which stops the event loop
# for every socket of the process, scans only what came later. Measured with 5,000 waiting-room
# sockets per process: ~180,000 of ~800,000 tracked objects are loaded at start, and a full
# collection of them all took 0.3-0.9 s on two busy cores.
gc.collect()
gc.freeze()
