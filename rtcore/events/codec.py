"""The JSON codec between event values and the bytes of a text frame.

``decode_server_event`` / ``decode_client_event`` turn one message into one
typed event, ``encode_event`` turns one event into compact JSON bytes. The
rules it enforces:

* A message is one JSON object with a string ``type`` (docs/protocol/connection.md#envelope).
  Anything else - malformed JSON, invalid UTF-8, a non-object, a missing or
  non-string ``type``, wrong field types, bad enum values, bad base64, missing
  required fields - raises ``DecodeError``, whose message names the JSON path
  (``session.turn_detection.threshold: expected number, got string``) and
  which carries the payload's ``event_id`` when one could be read.
* A ``type`` this protocol version does not know decodes to ``UnknownEvent``,
  which keeps the raw payload, so a client never breaks on events added later.
* Unknown fields on a known event are **kept** by default: they are set aside
  on the decoded event (see ``unknown_fields``), play no part in its typed
  value or equality, and are written back by ``encode_event``. A relay built
  on this codec therefore never strips fields that a newer server or client
  added, and ``encode_event(decode(x))`` is lossless for every message. With
  ``strict=True`` (the server role) they are an error instead, reported like
  the protocol does: code ``unknown_parameter`` and the dotted path.
* A server may bound the work one message costs: ``decode_client_event(...,
  max_values=N)`` refuses a message of more than N values (objects, arrays and
  the commas between their elements, outside strings) before building any,
  with code ``message_above_max_values`` (``explain._check_values``). Its
  nesting is measured from the same pass over the bytes
  (``explain._check_structure``), whatever the event's class.

Speed: the common case - a well-formed message of a known type - is a single
call into msgspec's C decoder, which validates and builds the typed event in
one pass. Everything above (error translation, unknown events, unknown
fields) runs only after that fast path has failed. Audio messages
(``response.audio.delta``, ``input_audio_buffer.append``) are mostly one
base64 string: for large ones the JSON parser only sees the rest of the
message, and the audio is validated and decoded by a SIMD base64 decoder
(pybase64; ``rtcore.events.bulk``). Anything unusual about such a message (an
escape, a second audio key, bad base64, another type) sends it down the
ordinary path, which gives the same result and the same errors. A server's
appends take that path from any size: a 20 ms append is about 1.3 KB.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, Literal, TypeAlias, Union, cast

import msgspec
import msgspec.inspect as mi
from msgspec.structs import force_setattr

from . import beta, ga
from ._base import EventBase
from .bulk import lean_appends, shell_decoder
from .client import ClientEvent, InputAudioBufferAppend
from .depth import _ALWAYS, _holds_free_form, _schema_depth
from .explain import (
    MAX_NESTING_DEPTH,
    DecodeError,
    _check_nesting,
    _check_structure,
    _dotted,
    _json_kind,
    _parse,
    _Path,
    _put,
    _strip,
    _translate,
)
from .server import ServerEvent

__all__ = [
    "DEFAULT_DIALECT",
    "MAX_NESTING_DEPTH",
    "Dialect",
    "client_events",
    "server_events",
    "DecodeError",
    "Event",
    "UnknownEvent",
    "decode_client_event",
    "decode_server_event",
    "encode_event",
    "unknown_fields",
]


class UnknownEvent(msgspec.Struct, frozen=True):
    """An event whose ``type`` this protocol version does not define.

    It changes nothing in either role; the raw payload is kept so that it can
    be inspected, logged or relayed unchanged.
    """

    type: str
    payload: dict[str, Any]

    @property
    def event_id(self) -> str | None:
        value = self.payload.get("event_id")
        return value if isinstance(value, str) else None


Event = ServerEvent | ClientEvent | UnknownEvent

Dialect: TypeAlias = Literal["ga", "beta"]
"""The two dialects of the protocol: GA (docs/protocol/ga.md) and beta (docs/protocol/beta.md)."""

DEFAULT_DIALECT: Final[Dialect] = "ga"
"""GA is the default: it is what OpenAI's endpoint and every current SDK speak;
beta must be asked for, as its handshake asks for it (``OpenAI-Beta: realtime=v1``)."""


def server_events(dialect: Dialect) -> dict[str, type[ServerEvent]]:
    """The server event classes of a dialect, by wire ``type`` (``ga.SERVER_EVENTS``, ...)."""
    return ga.SERVER_EVENTS if dialect == "ga" else beta.SERVER_EVENTS


def client_events(dialect: Dialect) -> dict[str, type[ClientEvent]]:
    """The client event classes of a dialect, by wire ``type`` (``ga.CLIENT_EVENTS``, ...)."""
    return ga.CLIENT_EVENTS if dialect == "ga" else beta.CLIENT_EVENTS


_encoder: Final = msgspec.json.Encoder()

# A stashed unknown field: its path from the event's root, and its JSON value.
_Unknown = tuple[tuple[_Path, Any], ...]


def unknown_fields(event: EventBase | UnknownEvent) -> dict[str, Any]:
    """The fields a decoded event carried that this protocol version does not define.

    Keys are dotted paths (``session.foo``, ``response.output[0].bar``).
    Events built in Python, and events decoded without such fields, give ``{}``.
    """
    if isinstance(event, UnknownEvent):
        return {}
    stash = cast("_Unknown | None", event._rtcore_unknown)
    return {_dotted(path): value for path, value in stash or ()}


def encode_event(event: EventBase | UnknownEvent) -> bytes:
    """Encode an event as compact JSON (one text frame's payload).

    Fields left ``UNSET`` are left out, ``None`` is written as ``null``, bytes
    as base64. Unknown fields kept by the decoder are written back.
    """
    if type(event) is UnknownEvent:
        return _encoder.encode(event.payload)
    stash = event._rtcore_unknown  # type: ignore[union-attr]
    if stash is None:
        return _encoder.encode(event)
    tree = msgspec.to_builtins(event)
    for path, value in stash:
        _put(tree, path, value)
    return _encoder.encode(tree)


_BULK_MIN = 2048
"""Messages shorter than this gain nothing from the audio fast path."""

_MARKER_WITHIN = 1024
"""The audio field must start this close to the message's beginning to take the fast path
(its envelope is a type and a few ids); an audio message laid out otherwise is decoded
by the ordinary path, with the same result."""


class _Table:
    """Decoding machinery for one direction (server events or client events)."""

    def __init__(
        self,
        classes: tuple[type[EventBase], ...],
        bulk: tuple[tuple[type[EventBase], ...], str],
    ) -> None:
        union: Any = Union[classes]  # noqa: UP007 - a runtime union of classes
        self.decoder = msgspec.json.Decoder(union)
        self.by_tag: dict[str, type[EventBase]] = {c.type: c for c in classes}
        # The type descriptions the slow path walks, made when it first needs one:
        # describing every class up front was most of the cost of ``import rtcore``.
        self._info: dict[type[EventBase], mi.StructType] = {}
        self.free_form: frozenset[type[EventBase]] = frozenset(
            c for c in classes if _schema_depth(mi.type_info(c)) is None
        )
        """The classes whose decoded value may nest deeper than ``MAX_NESTING_DEPTH``."""
        if self.free_form.intersection(bulk[0]):  # pragma: no cover - a vocabulary mistake
            raise TypeError("an audio event class holds free-form JSON")
        self.bulk = shell_decoder(self.decoder, *bulk, _MARKER_WITHIN)
        self.decode: Callable[..., Any] = self._fast_path()
        """``decode(data, strict=False)``: one message to one event (or ``DecodeError``)."""

    def _fast_path(self) -> Callable[..., Any]:
        """The decoding function, a closure over its constants: it runs once per message,
        and attribute and global look-ups were a measurable share of its cost."""
        bulk, typed, free_form = self.bulk, self.decoder.decode, self.free_form
        slowly, bulk_min = self._decode_slowly, _BULK_MIN

        def decode(data: bytes | str, strict: bool = False, max_values: int | None = None) -> Any:
            if len(data) >= bulk_min:
                event = bulk(data)
                if event is not None:
                    return event
            kind = type(data)
            if kind is not bytes and kind is not str:
                # Another bytes-like object (bytearray, memoryview): decoded as bytes.
                # Anything else is a TypeError naming what was passed.
                view = memoryview(data)  # type: ignore[arg-type]
                return decode(view.tobytes(), strict, max_values)
            refuse_deep = _refuse_deep
            if max_values is not None and len(data) > max_values:
                # The size of the structure before anything is built: building costs
                # about a microsecond per value. A message shorter than the limit
                # cannot hold more values than that: no pass at all. The nesting is
                # measured from the same pass over the bytes, so not again below.
                _check_structure(data, max_values)
                refuse_deep = _measured
            # The typed decode first: msgspec guards its own recursion (RecursionError,
            # below), and an event it accepts is nested no deeper than its class's
            # schema allows - within MAX_NESTING_DEPTH unless the class holds free-form
            # JSON (``free_form``), whose nesting is measured here. Every message it
            # refuses is measured before the slow path parses it generically.
            try:
                event = typed(data)
            except msgspec.ValidationError as exc:
                refuse_deep(data)
                return slowly(data, strict, exc)
            except (msgspec.DecodeError, UnicodeError):
                refuse_deep(data)
                return slowly(data, strict, None)
            except RecursionError:
                refuse_deep(data)
                raise DecodeError(f"nested deeper than {MAX_NESTING_DEPTH} levels") from None
            if type(event) in free_form:
                refuse_deep(data)
            return event

        return decode

    def received(self) -> Callable[[bytes | str], Any]:
        """``decode(data)`` with the defaults (lenient, no bound on values), for a peer's
        messages one by one: the same events and errors, with the checks that only other
        inputs need (a bytes-like object, ``max_values``) left to ``decode`` itself, which
        also answers every message the typed decode refuses.

        The nesting of an event of a ``free_form`` class is measured only when the decoded
        event holds a free-form value (``holds_free_form``): a GA item event carrying a
        message, not an ``mcp_list_tools`` item, is bounded by its schema like any other."""
        bulk, typed, decode = self.bulk, self.decoder.decode, self.decode
        holds = self.holds_free_form()
        bulk_min = _BULK_MIN

        def received(data: bytes | str) -> Any:
            if len(data) >= bulk_min:
                event = bulk(data)
                if event is not None:
                    return event
            try:
                event = typed(data)
            except Exception:
                return decode(data)  # says why, or recovers, exactly as ever
            test = holds.get(type(event))
            if test is not None and test(event):
                _refuse_deep(data)
            return event

        return received

    def holds_free_form(self) -> dict[type[EventBase], Callable[[Any], bool]]:
        """For each ``free_form`` class, whether one decoded event of it holds a free-form value.

        Made once per table (from the classes' descriptions, see ``_holds_free_form``). An
        event for which the test is false is nested no deeper than its schema without its
        free-form fields, which is checked here to be within ``MAX_NESTING_DEPTH``; a class
        for which that cannot be shown is tested as always holding one.
        """
        tests: dict[type[EventBase], Callable[[Any], bool]] | None = getattr(self, "_holds", None)
        if tests is None:
            tests = {}
            for cls in self.free_form:
                info = self.info(cls)
                bounded = _schema_depth(info, free_form_absent=True)
                test = _holds_free_form(info) if bounded is not None else None
                tests[cls] = _ALWAYS if test is None else test
            self._holds = tests
        return tests

    def info(self, cls: type[EventBase]) -> mi.StructType:
        """The msgspec description of one event class, for the slow path."""
        info = self._info.get(cls)
        if info is None:
            described = mi.type_info(cls)
            assert isinstance(described, mi.StructType)
            info = self._info[cls] = described
        return info

    def _decode_slowly(
        self, data: bytes | str, strict: bool, failure: msgspec.ValidationError | None
    ) -> Any:
        """Explain why the fast path failed, or recover an unknown event or unknown fields.

        Strictly, the fast path's own error is the answer (unknown fields are errors there
        too), read once the envelope is known: nothing walks the message in Python, so a
        large bad message costs about what a good one does. Leniently, unknown fields are
        set aside (``_strip``) and the rest decoded again.
        """
        obj = _parse(data)
        if not isinstance(obj, dict):
            raise DecodeError(f"expected a JSON object, got {_json_kind(obj)}")
        raw_id = obj.get("event_id")
        event_id = raw_id if isinstance(raw_id, str) else None
        if "type" not in obj:
            raise DecodeError("missing required field", path="type", event_id=event_id)
        event_type = obj["type"]
        if not isinstance(event_type, str):
            raise DecodeError(
                f"expected string, got {_json_kind(event_type)}",
                path="type",
                code="invalid_type",
                event_id=event_id,
            )
        cls = self.by_tag.get(event_type)
        if cls is None:
            return UnknownEvent(type=event_type, payload=obj)
        info = self.info(cls)
        if strict and failure is not None:
            # msgspec's JSON decoder says less about some type errors than its converter
            # (a tag's type), so only an unknown field is translated from the fast path's
            # error; anything else is told by converting what was parsed, in C as well.
            message = str(failure)
            if not message.startswith("Object contains unknown field"):
                try:
                    msgspec.convert(obj, cls)
                except msgspec.ValidationError as exc:
                    message = str(exc)
            raise _translate(message, obj, info, event_id, event_type) from None
        found: list[tuple[_Path, Any]] = []
        cleaned = _strip(obj, info, (), found)
        if found and strict:
            raise DecodeError(
                "unknown field",
                path=_dotted(found[0][0]),
                code="unknown_parameter",
                event_id=event_id,
                event_type=event_type,
            )
        try:
            event = msgspec.convert(cleaned, cls)
        except msgspec.ValidationError as exc:
            raise _translate(str(exc), cleaned, info, event_id, event_type) from None
        if found:
            force_setattr(event, "_rtcore_unknown", tuple(found))
        return event


def _refuse_deep(data: bytes | str) -> None:
    """Raise ``DecodeError`` for a message nested deeper than ``MAX_NESTING_DEPTH``.

    A message with no more brackets than the limit cannot be deeper; counting them
    is the cheap common case, the exact measure runs only above it. A large message
    goes to the nesting check at once: the one pass that copies out its marks counts
    its brackets too.
    """
    if isinstance(data, str):
        brackets = data.count("{") + data.count("[")
    elif len(data) > _BULK_MIN:
        _check_nesting(data)
        return
    else:
        brackets = data.count(b"{") + data.count(b"[")
    if brackets > MAX_NESTING_DEPTH:
        _check_nesting(data)


def _measured(data: bytes | str) -> None:
    """``_refuse_deep`` for a message whose nesting ``_check_structure`` has measured."""


class _Tables(dict[str, _Table]):
    """The decoding tables of one direction, by dialect, each made on first use.

    A process usually decodes one direction of one dialect, and ``import rtcore``
    should not pay for the other three. After the first message a lookup is a
    plain dict hit; an unknown dialect is a ``ValueError``.
    """

    def __init__(self, make: Callable[[str], _Table]) -> None:
        super().__init__()
        self._make = make

    def __missing__(self, dialect: str) -> _Table:
        if dialect not in ("ga", "beta"):
            raise ValueError(f"unknown dialect {dialect!r}; expected 'ga' or 'beta'")
        table = self[dialect] = self._make(dialect)
        return table


def _classes(types: tuple[type[Any], ...]) -> tuple[type[EventBase], ...]:
    return cast("tuple[type[EventBase], ...]", types)


def _server_table(dialect: str) -> _Table:
    if dialect == "beta":
        return _Table(_classes(beta.SERVER_EVENT_TYPES), ((beta.ResponseAudioDelta,), "delta"))
    # A GA stream may carry the beta name of the audio delta
    # (docs/protocol/choices.md#beta-names-in-ga): same speed.
    return _Table(
        _classes(ga.SERVER_EVENT_TYPES + ga.TOLERATED_EVENT_TYPES),
        ((ga.ResponseOutputAudioDelta, beta.ResponseAudioDelta), "delta"),
    )


def _client_table(dialect: str) -> _Table:
    types = ga.CLIENT_EVENT_TYPES if dialect == "ga" else beta.CLIENT_EVENT_TYPES
    table = _Table(_classes(types), ((InputAudioBufferAppend,), "audio"))
    table.decode = lean_appends(table.decode, table.decoder, _MARKER_WITHIN)
    return table


_SERVER_TABLES: Final = _Tables(_server_table)
_CLIENT_TABLES: Final = _Tables(_client_table)


def decode_server_event(
    data: bytes | str, *, dialect: Dialect = DEFAULT_DIALECT, strict: bool = False
) -> ServerEvent | UnknownEvent:
    """Decode one message sent by a server (the client role's input).

    ``data`` is the text frame's payload, as ``bytes`` (or any bytes-like
    object) or ``str``. ``dialect`` picks the vocabulary (``"ga"``, the
    default, or ``"beta"``); a type the dialect does not have decodes to
    ``UnknownEvent``. Raises
    ``DecodeError`` for invalid input. With ``strict=True`` unknown fields are
    an error too (useful to check that a server sends nothing this protocol
    version does not define).
    """
    event: ServerEvent | UnknownEvent = _SERVER_TABLES[dialect].decode(data, strict)
    return event


def server_decoder(
    dialect: Dialect = DEFAULT_DIALECT,
) -> Callable[[bytes | str], ServerEvent | UnknownEvent]:
    """``decode_server_event`` of one dialect, bound once (``ClientSession`` decodes with it).

    The same decoding, errors and results as ``decode_server_event(data,
    dialect=dialect)``, without looking the dialect's tables up per message.
    """
    decode = _RECEIVERS.get(dialect)
    if decode is None:
        # One function per dialect, shared by every session: it holds no state of its own.
        decode = _RECEIVERS[dialect] = _SERVER_TABLES[dialect].received()
    return decode


_RECEIVERS: dict[str, Callable[[bytes | str], ServerEvent | UnknownEvent]] = {}
"""``server_decoder``'s functions, by dialect (made on first use, like the tables)."""


def client_decoder(
    dialect: Dialect = DEFAULT_DIALECT,
) -> Callable[..., ClientEvent | UnknownEvent]:
    """``decode_client_event`` of one dialect, bound once: ``decode(data, strict=False,
    max_values=None)``, with the same decoding, errors and results.

    The dialect's tables are made now. ``rtcore serve`` makes those of the dialects
    it serves when it starts: made on the first client message of a dialect, they
    held the event loop (every session) for some 25-90 ms of describing event classes.
    """
    decode: Callable[..., ClientEvent | UnknownEvent] = _CLIENT_TABLES[dialect].decode
    return decode


def decode_client_event(
    data: bytes | str,
    *,
    dialect: Dialect = DEFAULT_DIALECT,
    strict: bool = False,
    max_values: int | None = None,
) -> ClientEvent | UnknownEvent:
    """Decode one message sent by a client (the server role's input).

    ``dialect`` as for ``decode_server_event``. Raises ``DecodeError`` for
    invalid input. With ``strict=True`` - what a server should use - unknown
    fields raise ``DecodeError`` with code ``unknown_parameter`` and the
    dotted ``path``, as the real service answers. ``max_values`` bounds the
    message's structure - its objects and arrays and the commas between their
    elements, outside strings - before anything is built: more is a
    ``DecodeError`` with code ``message_above_max_values`` (a server's bound on
    the work one message costs; ``None``, the default, checks nothing).
    """
    event: ClientEvent | UnknownEvent = _CLIENT_TABLES[dialect].decode(data, strict, max_values)
    return event
