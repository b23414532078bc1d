from django.urls import path

from buergerbuero.waiting import consumers

websocket_urlpatterns = [
    path("ws/tickets/<str:token>/", consumers.WaitingRoomConsumer.as_asgi()),
    path("ws/console/", consumers.ConsoleConsumer.as_asgi()),
]
