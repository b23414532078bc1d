from django.urls import path

from buergerbuero.offices import consumers

websocket_urlpatterns = [
    path("ws/<slug:org_slug>/status/", consumers.DirectoryStatusConsumer.as_asgi()),
]
