from django.urls import path

from buergerbuero.consult import consumers

websocket_urlpatterns = [
    path("ws/consultations/<int:consultation_id>/", consumers.ConsultationConsumer.as_asgi()),
]
