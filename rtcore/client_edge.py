"""The client's edge of each dialect: what is beta or GA about a ``ClientSession``.

A ``ClientSession`` holds one: ``BetaClientEdge`` or ``GAClientEdge``. The
edge reads the client's own requests with its dialect's reader - the very
functions the server reads them with (``rtcore.rules.beta_read`` /
``ga_read`` and ``rtcore.rules.items``) - so the client refuses what the
server would, with the server's code and ``param``. It also writes the
dialect's ``conversation.item.create`` for ``replay_events``. The server's
edges (``rtcore.server.beta_edge`` / ``ga_edge``) add the writing of server
events; the client needs none of that.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Protocol

from . import events as ev
from .events import beta, ga
from .rules import beta_read, ga_read
from .rules.event_id import GA_MAX_EVENT_ID_LENGTH
from .rules.items import check_beta_item, check_ga_item
from .rules.reading import Changes, Paths
from .state.session import SessionState

__all__ = ["BetaClientEdge", "ClientEdge", "GAClientEdge", "client_edge"]

ItemCreate = beta.ConversationItemCreate | ga.ConversationItemCreate
"""A ``conversation.item.create`` of either dialect."""
Anchor = str | None | ev.UnsetType


class ClientEdge(Protocol):
    """The interface of a client's dialect edge (see the module docstring)."""

    dialect: ClassVar[ev.Dialect]
    namespace: ClassVar[str]
    """The module whose classes the dialect's events are (for error messages)."""
    client_events: ClassVar[frozenset[type[ev.ClientEvent]]]
    max_event_id_length: ClassVar[int | None]

    def session_changes(
        self, event: ev.ClientEvent, current: SessionState
    ) -> tuple[Changes, Paths] | None:
        """A session update's changes and their wire paths (``None``: not a session update)."""
        ...

    def response_overrides(self, event: ev.ClientEvent) -> tuple[Changes, Paths] | None:
        """A ``response.create``'s overrides and their wire paths (``None``: not one)."""
        ...

    def created_item(self, event: ev.ClientEvent) -> tuple[object, Anchor] | None:
        """A ``conversation.item.create``'s item and ``previous_item_id`` (``None``: not one)."""
        ...

    def check_item(self, item: object, param: str, input_format: ev.AudioFormat) -> None:
        """The dialect's rules for an item (raises ``Invalid``)."""
        ...

    def item_create(self, item: beta.Item | ga.MessageItem) -> ItemCreate:
        """The dialect's ``conversation.item.create`` for ``item``."""
        ...

    def text_message(
        self, item_id: str, role: ev.Role, texts: Sequence[str]
    ) -> beta.Item | ga.Item:
        """A message of text parts in the dialect (assistant text is ``output_text`` in GA)."""
        ...


class BetaClientEdge:
    """What is beta about a beta client."""

    dialect: ClassVar[ev.Dialect] = "beta"
    namespace: ClassVar[str] = "rtcore.events.beta"
    client_events: ClassVar[frozenset[type[ev.ClientEvent]]] = frozenset(
        beta.CLIENT_EVENTS.values()
    )
    max_event_id_length: ClassVar[int | None] = None

    def session_changes(
        self, event: ev.ClientEvent, current: SessionState
    ) -> tuple[Changes, Paths] | None:
        if isinstance(event, beta.SessionUpdate):
            changes, paths, _ = beta_read.session_changes(event.session)
        elif isinstance(event, beta.TranscriptionSessionUpdate):
            config = beta_read.transcription_session_config(event.session)
            changes, paths, _ = beta_read.session_changes(config)
        else:
            return None
        return changes, paths

    def response_overrides(self, event: ev.ClientEvent) -> tuple[Changes, Paths] | None:
        if not isinstance(event, beta.ResponseCreate):
            return None
        return beta_read.response_overrides(event.response)

    def created_item(self, event: ev.ClientEvent) -> tuple[object, Anchor] | None:
        if not isinstance(event, beta.ConversationItemCreate):
            return None
        return event.item, event.previous_item_id

    def check_item(self, item: object, param: str, input_format: ev.AudioFormat) -> None:
        assert isinstance(item, beta.MessageItem | ev.FunctionCallItem | ev.FunctionCallOutputItem)
        check_beta_item(item, param, input_format)

    def item_create(self, item: beta.Item | ga.MessageItem) -> ItemCreate:
        assert not isinstance(item, ga.MessageItem)
        return beta.ConversationItemCreate(item=item)

    def text_message(self, item_id: str, role: ev.Role, texts: Sequence[str]) -> beta.Item:
        parts = tuple(
            ev.TextContent(text=t) if role == "assistant" else ev.InputTextContent(text=t)
            for t in texts
        )
        return beta.MessageItem(id=item_id, role=role, content=parts)


class GAClientEdge:
    """What is GA about a GA client."""

    dialect: ClassVar[ev.Dialect] = "ga"
    namespace: ClassVar[str] = "rtcore.events.ga"
    client_events: ClassVar[frozenset[type[ev.ClientEvent]]] = frozenset(ga.CLIENT_EVENTS.values())
    max_event_id_length: ClassVar[int | None] = GA_MAX_EVENT_ID_LENGTH

    def session_changes(
        self, event: ev.ClientEvent, current: SessionState
    ) -> tuple[Changes, Paths] | None:
        if not isinstance(event, ga.SessionUpdate):
            return None
        changes, paths, _ = ga_read.session_changes(event.session, current)
        return changes, paths

    def response_overrides(self, event: ev.ClientEvent) -> tuple[Changes, Paths] | None:
        if not isinstance(event, ga.ResponseCreate):
            return None
        return ga_read.response_overrides(event.response)

    def created_item(self, event: ev.ClientEvent) -> tuple[object, Anchor] | None:
        if not isinstance(event, ga.ConversationItemCreate):
            return None
        return event.item, event.previous_item_id

    def check_item(self, item: object, param: str, input_format: ev.AudioFormat) -> None:
        assert isinstance(
            item,
            ga.MessageItem
            | ev.FunctionCallItem
            | ev.FunctionCallOutputItem
            | ga.McpListToolsItem
            | ga.McpCallItem
            | ga.McpApprovalRequestItem
            | ga.McpApprovalResponseItem,
        )
        check_ga_item(item, param, input_format)

    def item_create(self, item: beta.Item | ga.MessageItem) -> ItemCreate:
        assert not isinstance(item, beta.MessageItem)
        return ga.ConversationItemCreate(item=item)

    def text_message(self, item_id: str, role: ev.Role, texts: Sequence[str]) -> ga.Item:
        parts = tuple(
            ga.OutputTextContent(text=t) if role == "assistant" else ev.InputTextContent(text=t)
            for t in texts
        )
        return ga.MessageItem(id=item_id, role=role, content=parts)


_EDGES: dict[str, ClientEdge] = {"beta": BetaClientEdge(), "ga": GAClientEdge()}


def client_edge(dialect: str) -> ClientEdge:
    """The client edge of ``dialect`` (``ValueError`` for an unknown one)."""
    edge = _EDGES.get(dialect)
    if edge is None:
        raise ValueError(f"unknown dialect {dialect!r}; expected 'ga' or 'beta'")
    return edge
