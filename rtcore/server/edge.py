"""What a dialect's edge of the server provides, typed with the dialect's own classes.

A ``ServerSession`` holds one ``Edge``: ``BetaEdge`` or ``GAEdge``. The
session's logic never names a dialect's event classes or wire fields; it asks
its edge to read a request into the neutral vocabulary
(``session_changes``, ``response_overrides``, ``check_item``) and to write a
happening as the dialect's events (``session_event``, ``item_added``,
``item_done``, ``wire_item``, ``response_object``, the stream classes in
``streams``). ``rate_limits_first`` says where ``rate_limits.updated`` goes:
right after a response's first output begins (beta), or once after its last
part closes, before ``response.done`` (docs/protocol/flows.md#responses). ``max_event_id_length``
is the longest client ``event_id`` the dialect accepts (GA: 512 characters,
docs/protocol/connection.md#envelope; beta: no limit).

The reading half is the dialect's reader in ``rtcore.rules`` (``beta_read``,
``ga_read``, ``items``), which the client uses too; an edge only adds the
writing half.

Typing. ``Edge`` is generic over the dialect's own classes: the session
object of ``session.update`` (``SessionT``), the ``response.create``
parameters (``ParamsT``), a client's item (``ItemT``), the item objects it
writes (``WireItemT``) and its response object (``ResponseT``). ``BetaEdge``
is an ``Edge`` of beta classes and ``GAEdge`` of GA classes, so mypy refuses
a beta object handed to the GA edge, or a beta item written by it. The
session's logic, which serves both, holds a bare ``Edge`` (its parameters
default to ``Any``: the events it passes on come from its dispatch table,
where the dialect was checked at run time).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeAlias

import msgspec

from .. import events as ev
from ..events import beta, ga
from ..ids import IdFactory
from ..rules.reading import Changes, Extras, Paths
from ..state import ItemState
from ..state.session import SessionState
from .effects import ResponseSettings

if TYPE_CHECKING:
    from typing_extensions import TypeVar
else:  # typing.TypeVar takes ``default`` from Python 3.13 on; it only matters to mypy
    from typing import TypeVar as _TypeVar

    def TypeVar(name: str, *, default: object = None, **kwargs: object) -> object:  # noqa: N802
        return _TypeVar(name, **kwargs)


__all__ = ["Edge", "SessionGiven", "SessionRequest", "Streams"]

SessionT = TypeVar("SessionT", contravariant=True, default=Any)
"""The session object of the dialect's ``session.update``."""
ParamsT = TypeVar("ParamsT", contravariant=True, default=Any)
"""The dialect's ``response.create.response`` (absent and ``null`` included)."""
ItemT = TypeVar("ItemT", contravariant=True, default=Any)
"""An item a client of the dialect creates."""
WireItemT = TypeVar("WireItemT", default=Any)
"""The item objects the dialect's server writes."""
ResponseT = TypeVar("ResponseT", default=Any)
"""The dialect's response object."""


class Streams(msgspec.Struct, frozen=True, kw_only=True):
    """The event classes of the streamed values, by what they carry."""

    text_delta: type[ev.ServerEvent]
    text_done: type[ev.ServerEvent]
    audio_delta: type[ev.ServerEvent]
    audio_done: type[ev.ServerEvent]
    transcript_delta: type[ev.ServerEvent]
    transcript_done: type[ev.ServerEvent]


class Edge(Protocol[SessionT, ParamsT, ItemT, WireItemT, ResponseT]):
    """The interface of a dialect's edge (see the module docstring)."""

    dialect: ClassVar[ev.Dialect]
    client_events: ClassVar[frozenset[type[ev.ClientEvent]]]
    streams: ClassVar[Streams]
    rate_limits_first: ClassVar[bool]
    max_event_id_length: ClassVar[int | None]

    def session_changes(
        self, update: SessionT, current: SessionState
    ) -> tuple[Changes, Paths, Extras]:
        """A ``session.update``'s session as neutral changes, their wire paths, and dialect extras."""
        ...

    def response_overrides(self, params: ParamsT) -> tuple[Changes, Paths]:
        """``response.create.response`` as neutral overrides and their wire paths."""
        ...

    def check_item(self, item: ItemT, param: str, input_format: ev.AudioFormat) -> None:
        """The dialect's rules for an item a client creates (raises ``Invalid``)."""
        ...

    def session_event(
        self, created: bool, config: SessionState, extras: Extras, event_id: str
    ) -> ev.ServerEvent: ...

    def wire_item(self, item: ItemState, *, with_audio: bool = False) -> WireItemT: ...

    def item_added(
        self, ids: IdFactory, previous: str | None, item: ItemState, *, final: bool
    ) -> list[ev.ServerEvent]:
        """The events that announce an item entering the conversation (``final``: complete already)."""
        ...

    def item_done(
        self, ids: IdFactory, previous: str | None, item: ItemState
    ) -> list[ev.ServerEvent]:
        """The events that say an output item is final (none in beta)."""
        ...

    def response_object(
        self,
        *,
        id: str,
        status: ev.ResponseStatus,
        status_details: ev.StatusDetails | None,
        output: tuple[WireItemT, ...],
        conversation_id: str | None,
        usage: ev.Usage | None,
        settings: ResponseSettings,
    ) -> ResponseT: ...

    def response_created(self, event_id: str, response: ResponseT) -> ev.ServerEvent: ...

    def response_done(self, event_id: str, response: ResponseT) -> ev.ServerEvent: ...

    def output_item(
        self, added: bool, *, event_id: str, response_id: str, output_index: int, item: WireItemT
    ) -> ev.ServerEvent: ...

    def retrieved(self, event_id: str, item: WireItemT) -> ev.ServerEvent: ...

    # -- what else is the dialect's (the logic names none of it) ----------------------------

    default_model: ClassVar[str]
    """The model a session of this dialect reports when the client names none."""

    def session_of(self, request: SessionRequest, current: SessionState) -> SessionGiven:
        """The session object a client's update carries (beta's ``transcription_session.update``
        read as the realtime session members it sets; raises ``Invalid``)."""
        ...

    def session_temperature(self, extras: Extras) -> float | None:
        """The sampling temperature the dialect's session extras hold (beta), else ``None``."""
        ...

    def mcp_call_opened(
        self, ids: IdFactory, response_id: str, item_id: str, output_index: int, arguments: str
    ) -> list[ev.ServerEvent]:
        """The events of an MCP call's arguments and its start (the item is announced already)."""
        ...

    def mcp_call_closed(
        self, event_id: str, item_id: str, output_index: int, *, failed: bool
    ) -> ev.ServerEvent:
        """The event that says an MCP call returned (``failed``: with an error)."""
        ...

    def mcp_listing_opened(self, event_id: str, item_id: str) -> ev.ServerEvent:
        """The event that says the listing of an MCP server's tools is under way."""
        ...

    def mcp_listing_closed(self, event_id: str, item_id: str, *, failed: bool) -> ev.ServerEvent:
        """The event that says the listing ended (``failed``: without tools)."""
        ...


SessionRequest: TypeAlias = beta.SessionUpdate | ga.SessionUpdate | beta.TranscriptionSessionUpdate
"""A client's request to change its session, in either dialect."""
SessionGiven: TypeAlias = beta.SessionConfig | ga.SessionConfig
"""The session object such a request carries, in its dialect's shape."""
