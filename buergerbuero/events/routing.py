from channels.auth import AuthMiddlewareStack
from django.urls import path

from buergerbuero.events import consumers

websocket_urlpatterns = [
    # Hosts by their staff session, viewers by the token in the query: the session stack for both.
    path("ws/events/<int:event_id>/", AuthMiddlewareStack(consumers.EventConsumer.as_asgi())),
]
