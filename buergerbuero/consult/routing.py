from channels.auth import AuthMiddlewareStack
from django.urls import path

from buergerbuero.consult import consumers

websocket_urlpatterns = [
    # Staff by session, interpreters by cookie, citizens by ticket: all through the session stack.
    path(
        "ws/consultations/<int:consultation_id>/",
        AuthMiddlewareStack(consumers.ConsultationConsumer.as_asgi()),
    ),
]
