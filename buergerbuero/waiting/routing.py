from channels.auth import AuthMiddlewareStack
from django.urls import path

from buergerbuero.waiting import consumers

websocket_urlpatterns = [
    # Citizens' sockets carry their ticket in the address and never need a session: without
    # the session middleware each fan-out message costs noticeably less.
    path("ws/tickets/<str:token>/", consumers.WaitingRoomConsumer.as_asgi()),
    path("ws/console/", AuthMiddlewareStack(consumers.ConsoleConsumer.as_asgi())),
]
