"""Invalid client messages, each paired with the ``error`` a conforming server answers it with.

``INVALID(dialect)`` is a fixed table of messages a server must refuse and
the ``error`` (type, code, param) it owes each (docs/protocol/connection.md#envelope):
made-up item ids for delete, retrieve and truncate, an unknown event type,
malformed JSON, a JSON value that is not an object, a missing required
field, a cancel with nothing to cancel, an unknown session field.
``invalid_events(dialect)`` draws from the table and mutates valid events
of every class: an unknown field added (a strict server answers
``unknown_parameter``), a required field taken out
(``missing_required_parameter``), a plain field given a list or an object
(``invalid_type``). Conversations use the table for their ``invalid``
steps (``rtcore.testing.conversations``).
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
import msgspec.inspect as mi
from hypothesis import strategies as st

from .. import events as ev
from .vocabulary import events_of

__all__ = ["InvalidEvent", "invalid_table", "invalid_events"]


class InvalidEvent(msgspec.Struct, frozen=True):
    """A client message and the ``error`` a conforming server answers it with."""

    message: bytes
    code: str
    param: str | None
    type: str = "invalid_request_error"


def _j(obj: object) -> bytes:
    return json.dumps(obj).encode()


def invalid_table(dialect: ev.Dialect) -> tuple[InvalidEvent, ...]:
    """The fixed invalid messages of ``dialect``, each with its error."""
    # GA's session.update must say which session it configures before anything else is read.
    unknown_session = (
        InvalidEvent(
            _j({"type": "session.update", "session": {"bogus": 1}}),
            "missing_required_parameter",
            "session.type",
        )
        if dialect == "ga"
        else InvalidEvent(
            _j({"type": "session.update", "session": {"bogus": 1}}),
            "unknown_parameter",
            "session.bogus",
        )
    )
    truncate = {
        "type": "conversation.item.truncate",
        "item_id": "nope",
        "content_index": 0,
        "audio_end_ms": 0,
    }
    return (
        InvalidEvent(
            _j({"type": "conversation.item.delete", "item_id": "nope"}), "invalid_value", "item_id"
        ),
        InvalidEvent(
            _j({"type": "conversation.item.retrieve", "item_id": "nope"}),
            "invalid_value",
            "item_id",
        ),
        InvalidEvent(_j(truncate), "invalid_value", "item_id"),
        InvalidEvent(_j({"type": "no.such.event"}), "invalid_value", "type"),
        InvalidEvent(b"not json", "invalid_event", None),
        InvalidEvent(b"[1]", "invalid_event", None),
        InvalidEvent(
            _j({"type": "conversation.item.delete"}), "missing_required_parameter", "item_id"
        ),
        InvalidEvent(_j({"type": "response.cancel"}), "response_cancel_not_active", None),
        unknown_session,
    )


@st.composite
def _unknown_field(draw: st.DrawFn, dialect: ev.Dialect) -> InvalidEvent:
    classes = sorted(ev.client_events(dialect).values(), key=lambda c: c.type)
    event: Any = draw(st.sampled_from(classes).flatmap(events_of))
    body = json.loads(ev.encode_event(event))
    name = draw(st.sampled_from(["bogus", "x_extra", "colour"]))
    body[name] = draw(st.integers(0, 9))
    return InvalidEvent(json.dumps(body).encode(), "unknown_parameter", name)


_SCALARS = (mi.StrType, mi.IntType, mi.FloatType, mi.BoolType, mi.BytesType, mi.NoneType)


def _scalar(t: mi.Type) -> bool:
    """A field that takes only plain values: a list in its place is the wrong type, whatever else."""
    if isinstance(t, mi.UnionType):
        return all(isinstance(m, _SCALARS) for m in t.types)
    return isinstance(t, _SCALARS) and not isinstance(t, mi.NoneType)


@st.composite
def _mutated(draw: st.DrawFn, dialect: ev.Dialect) -> InvalidEvent:
    """A valid event of any class with one field taken out or given a value of the wrong type."""
    classes = sorted(ev.client_events(dialect).values(), key=lambda c: c.type)
    cls = draw(st.sampled_from(classes))
    body = json.loads(ev.encode_event(draw(events_of(cls))))
    fields = mi.type_info(cls).fields  # type: ignore[attr-defined]
    choices = [("missing", f.encode_name) for f in fields if f.required]
    choices += [("type", f.encode_name) for f in fields if _scalar(f.type)]
    kind, name = draw(st.sampled_from(choices))
    if kind == "missing":
        del body[name]
        return InvalidEvent(json.dumps(body).encode(), "missing_required_parameter", name)
    body[name] = draw(st.sampled_from([[1], {"x": 1}]))
    return InvalidEvent(json.dumps(body).encode(), "invalid_type", name)


def invalid_events(dialect: ev.Dialect = "ga") -> st.SearchStrategy[InvalidEvent]:
    """Invalid client messages, each with the ``error`` a conforming server answers first.

    The fixed table's entries, valid events of any class with an unknown
    field added, and valid events with one field taken out
    (``missing_required_parameter``) or of the wrong type (``invalid_type``),
    the ``param`` naming the field.
    """
    return st.one_of(
        st.sampled_from(invalid_table(dialect)), _unknown_field(dialect), _mutated(dialect)
    )
