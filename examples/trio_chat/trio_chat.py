"""A small text chat on ``rtcore_trio.connect``: ask, read the answer, interrupt a long one.

``Chat`` keeps one Realtime connection open; ``ask(text)`` returns the
model's answer, ``ask(text, stop_after=n)`` cancels the answer after ``n``
deltas (the user interrupted) and returns what came until then. The state
of the conversation is rtcore's snapshot (``chat.snapshot``): the app never
keeps its own copy of the items.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from rtcore import events as ev
from rtcore.events import beta, ga
from rtcore.state import Snapshot
from rtcore_trio import RealtimeClient, connect


class Chat:
    def __init__(self, client: RealtimeClient, dialect: ev.Dialect) -> None:
        self.client = client
        self.dialect: ev.Dialect = dialect

    @property
    def snapshot(self) -> Snapshot:
        return self.client.state

    async def ask(self, text: str, *, stop_after: int | None = None) -> tuple[str, str]:
        """The answer's text and how its response ended (``completed``, ``cancelled``...)."""
        content = (ev.InputTextContent(text=text),)
        create: ev.ClientEvent
        if self.dialect == "ga":
            create = ga.ConversationItemCreate(item=ga.MessageItem(role="user", content=content))
            respond: ev.ClientEvent = ga.ResponseCreate(
                response=ga.ResponseParams(output_modalities=("text",))
            )
        else:
            create = beta.ConversationItemCreate(
                item=beta.MessageItem(role="user", content=content)
            )
            respond = beta.ResponseCreate(response=beta.ResponseParams(modalities=("text",)))
        await self.client.send(create)
        await self.client.send(respond)
        answer: list[str] = []
        async for event, _ in self.client:
            if isinstance(event, ev.ErrorEvent):
                raise RuntimeError(f"{event.error.code}: {event.error.message}")
            if isinstance(event, ga.ResponseOutputTextDelta | beta.ResponseTextDelta):
                answer.append(event.delta)
                if stop_after is not None and len(answer) == stop_after:
                    await self.client.send(ev.ResponseCancel())
            elif isinstance(event, ga.ResponseDone | beta.ResponseDone):
                return "".join(answer), str(event.response.status)
        raise RuntimeError("the connection closed during the answer")


@asynccontextmanager
async def open_chat(url: str, api_key: str, dialect: ev.Dialect = "ga") -> AsyncIterator[Chat]:
    async with connect(url, api_key=api_key, dialect=dialect) as client:
        yield Chat(client, dialect)
