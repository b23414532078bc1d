"""The base of every WebSocket consumer that listens through the hub."""

from __future__ import annotations

from channels.generic.websocket import AsyncWebsocketConsumer

from buergerbuero.realtime.hub import hub

# Not a configured layer: our sockets get their events from the hub, and a channel-layer
# channel per socket would cost a Redis subscription each (guide §5: "cannot connect all").
NO_CHANNEL_LAYER = "hub-only"


class HubConsumer(AsyncWebsocketConsumer):
    channel_layer_alias = NO_CHANNEL_LAYER
    hub_groups: tuple[str, ...] = ()

    def listen(self, *groups: str) -> None:
        self.hub_groups = (*self.hub_groups, *groups)
        for group in groups:
            hub.join(group, self)

    def stop_listening(self) -> None:
        for group in self.hub_groups:
            hub.leave(group, self)
        self.hub_groups = ()

    async def deliver(self, group: str, text: str) -> None:
        """Forward the broadcast as it is: serialised once for every receiver."""
        await self.base_send({"type": "websocket.send", "text": text})

    async def disconnect(self, code: int) -> None:
        self.stop_listening()
