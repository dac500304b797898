"""What a dialect's edge of the server provides, and the pieces both edges use.

A ``ServerSession`` holds one ``Edge``: ``BetaEdge`` or ``GAEdge``. The
session's logic never names a dialect's event classes or wire fields; it asks
its edge to read a request into the neutral vocabulary
(``session_changes``, ``response_overrides``, ``check_item``) and to write a
happening as the dialect's events (``session_event``, ``item_added``,
``item_done``, ``wire_item``, ``response_object``, the stream classes in
``streams``). ``rate_limits_first`` says where ``rate_limits.updated`` goes:
right after a response's first output begins (beta), or once after its last
part closes, before ``response.done`` (GA.md 10.4). ``max_event_id_length``
is the longest client ``event_id`` the dialect accepts (GA: 512 characters,
GA.md 1.6; beta: no limit).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Protocol, TypeAlias

import msgspec

from .. import events as ev
from ..audio.formats import FORMATS
from ..events import ga
from ..ids import IdFactory
from ..state import ItemState, PartState
from ..state.session import SessionState
from .settings import Invalid, invalid_value, missing

__all__ = [
    "Edge",
    "EdgeEvents",
    "SessionGiven",
    "SessionRequest",
    "Streams",
    "check_parts",
    "given_fields",
    "item_text",
    "transcript_text",
]


SessionRequest: TypeAlias = ev.SessionUpdate | ga.SessionUpdate | ev.TranscriptionSessionUpdate
"""A client's request to change its session, in either dialect."""
SessionGiven: TypeAlias = ev.SessionConfig | ga.GASessionConfig
"""The session object such a request carries, in its dialect's shape."""


class Streams(msgspec.Struct, frozen=True, kw_only=True):
    """The event classes of the streamed values, by what they carry."""

    text_delta: type[ev.ServerEvent]
    text_done: type[ev.ServerEvent]
    audio_delta: type[ev.ServerEvent]
    audio_done: type[ev.ServerEvent]
    transcript_delta: type[ev.ServerEvent]
    transcript_done: type[ev.ServerEvent]


class Edge(Protocol):
    """The interface of a dialect's edge (see the module docstring)."""

    dialect: ClassVar[ev.Dialect]
    client_events: ClassVar[frozenset[type[ev.ClientEvent]]]
    streams: ClassVar[Streams]
    rate_limits_first: ClassVar[bool]
    max_event_id_length: ClassVar[int | None]

    def session_changes(
        self, update: Any, current: SessionState
    ) -> tuple[dict[str, Any], Mapping[str, str], dict[str, Any]]:
        """A ``session.update``'s session as neutral changes, their wire paths, and dialect extras."""
        ...

    def response_overrides(self, params: Any) -> tuple[dict[str, Any], Mapping[str, str]]:
        """``response.create.response`` as neutral overrides and their wire paths."""
        ...

    def check_item(self, item: Any, param: str, input_format: ev.AudioFormat) -> None:
        """The dialect's rules for an item a client creates (raises ``Invalid``)."""
        ...

    def session_event(
        self, created: bool, config: SessionState, extras: dict[str, Any], event_id: str
    ) -> ev.ServerEvent: ...

    def wire_item(self, item: ItemState, *, with_audio: bool = False) -> Any: ...

    def item_added(
        self, ids: Any, previous: str | None, item: ItemState, *, final: bool
    ) -> list[ev.ServerEvent]:
        """The events that announce an item entering the conversation (``final``: complete already)."""
        ...

    def item_done(self, ids: Any, previous: str | None, item: ItemState) -> list[ev.ServerEvent]:
        """The events that say an output item is final (none in beta)."""
        ...

    def response_object(self, **fields: Any) -> Any: ...

    def response_created(self, event_id: str, response: Any) -> ev.ServerEvent: ...

    def response_done(self, event_id: str, response: Any) -> ev.ServerEvent: ...

    def output_item(self, added: bool, **fields: Any) -> ev.ServerEvent: ...

    def retrieved(self, event_id: str, item: Any) -> ev.ServerEvent: ...

    # -- what else is the dialect's (the logic names none of it) ----------------------------

    default_model: ClassVar[str]
    """The model a session of this dialect reports when the client names none."""

    def session_of(self, request: SessionRequest, current: SessionState) -> SessionGiven:
        """The session object a client's update carries, once the dialect's rules on which
        update a session of ``current.kind`` takes have passed (raises ``Invalid``)."""
        ...

    def session_temperature(self, extras: Mapping[str, object]) -> float | None:
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


class EdgeEvents:
    """The events both edges write the same way, each with its dialect's class."""

    response_created_class: ClassVar[Any]
    response_done_class: ClassVar[Any]
    output_item_added_class: ClassVar[Any]
    output_item_done_class: ClassVar[Any]
    retrieved_class: ClassVar[Any]

    def response_created(self, event_id: str, response: Any) -> ev.ServerEvent:
        event: ev.ServerEvent = self.response_created_class(event_id=event_id, response=response)
        return event

    def response_done(self, event_id: str, response: Any) -> ev.ServerEvent:
        event: ev.ServerEvent = self.response_done_class(event_id=event_id, response=response)
        return event

    def output_item(self, added: bool, **fields: Any) -> ev.ServerEvent:
        kind = self.output_item_added_class if added else self.output_item_done_class
        event: ev.ServerEvent = kind(**fields)
        return event

    def retrieved(self, event_id: str, item: Any) -> ev.ServerEvent:
        event: ev.ServerEvent = self.retrieved_class(event_id=event_id, item=item)
        return event


def given_fields(struct: Any) -> dict[str, Any]:
    """The members a client set in a request object (``{}`` for an absent or null object)."""
    if struct is None or isinstance(struct, ev.UnsetType):
        return {}
    return {
        name: getattr(struct, name)
        for name in struct.__struct_fields__
        if not isinstance(getattr(struct, name), ev.UnsetType)
    }


def item_text(part: PartState) -> str:
    return part.text.value if part.text is not None else ""


def transcript_text(part: PartState) -> str | None:
    return part.transcript.value if part.transcript is not None else None


def check_parts(
    item: Any,
    param: str,
    input_format: ev.AudioFormat,
    allowed_by_role: Mapping[str, tuple[str, ...]],
    assistant_text: str,
) -> None:
    """The content rules of a client's message item (SEQUENCES.md 8.4, GA.md 2.7)."""
    if isinstance(item.content, ev.UnsetType):
        raise missing(f"{param}.content")
    allowed = allowed_by_role[item.role]
    for i, part in enumerate(item.content):
        where = f"{param}.content[{i}]"
        if part.type not in allowed:
            if item.role == "assistant" and part.type in ("audio", "output_audio"):
                raise Invalid(
                    "invalid_value",
                    f"Assistant messages cannot carry audio; use an '{assistant_text}' part."
                    if assistant_text.startswith("o")
                    else f"Assistant messages cannot carry audio; use a '{assistant_text}' part.",
                    f"{where}.type",
                )
            raise invalid_value(
                f"{where}.type",
                part.type,
                allowed,
                f"A {item.role} message accepts these content types.",
            )
        if isinstance(part, ev.InputAudioContent):
            if isinstance(part.audio, ev.UnsetType):
                raise missing(f"{where}.audio")
            width = FORMATS[input_format].sample_width
            if len(part.audio) % width:
                raise Invalid(
                    "invalid_value",
                    f"Invalid audio: {len(part.audio)} bytes is not a whole number of {input_format} samples.",
                    f"{where}.audio",
                )
