"""The one websocket: it joins the person's group and forwards pre-rendered fragments."""

from __future__ import annotations

from channels.generic.websocket import AsyncWebsocketConsumer

from chat.events import user_group


class PageConsumer(AsyncWebsocketConsumer):
    group: str | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.group = user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """The socket is push-only; actions are htmx POSTs, so anything sent here is ignored."""

    async def page_push(self, event: dict) -> None:
        await self.send(text_data=event["html"])
