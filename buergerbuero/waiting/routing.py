from channels.auth import AuthMiddlewareStack
from django.urls import path

from buergerbuero.waiting import consumers

websocket_urlpatterns = [
    # First, as before the move: an organisation named "tickets" keeps its directory socket.
    path("ws/<slug:org_slug>/status/", consumers.DirectoryStatusConsumer.as_asgi()),
    # Citizens' sockets carry their ticket in the address and never need a session: without
    # the session middleware each fan-out message costs noticeably less.
    path("ws/tickets/<str:token>/", consumers.WaitingRoomConsumer.as_asgi()),
    path("ws/console/", AuthMiddlewareStack(consumers.ConsoleConsumer.as_asgi())),
]
