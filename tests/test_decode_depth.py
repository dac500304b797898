"""The nesting limit after the typed decode: schemas bound the depth, free-form JSON is measured."""

from __future__ import annotations

from typing import Any, Literal

import msgspec
import msgspec.inspect as mi
import pytest

from rtcore import ClientSession
from rtcore import events as ev
from rtcore.errors import RemoteProtocolError
from rtcore.events import DecodeError, beta, codec, depth, ga
from rtcore.events.codec import server_decoder
from rtcore.events.depth import _schema_depth

LIMIT = ev.MAX_NESTING_DEPTH


def _schema(depth: int) -> str:
    out = "1"
    for _ in range(depth):
        out = '{"k":' + out + "}"
    return out


SESSION_UPDATED = {
    # Levels: message, session, tools, tool, parameters; the schema below starts at 6.
    "ga": '{"type":"session.updated","event_id":"e","session":{"type":"realtime",'
    '"tools":[{"type":"function","name":"f","parameters":{"x":%s}}]}}',
    "beta": '{"type":"session.updated","event_id":"e","session":{"id":"s",'
    '"tools":[{"type":"function","name":"f","parameters":{"x":%s}}]}}',
}


@pytest.mark.parametrize("dialect", ["ga", "beta"])
def test_free_form_json_in_a_small_server_event_counts(dialect: str) -> None:
    template = SESSION_UPDATED[dialect]
    fits = template % _schema(LIMIT - 5)
    assert len(fits) < 2048  # the ordinary path, not the audio one
    event = ev.decode_server_event(fits, dialect=dialect, strict=True)  # type: ignore[arg-type]
    assert event.type == "session.updated"
    for data in (template % _schema(LIMIT - 4), (template % _schema(LIMIT - 4)).encode()):
        with pytest.raises(DecodeError, match="nested deeper"):
            ev.decode_server_event(data, dialect=dialect)  # type: ignore[arg-type]


class Free(msgspec.Struct, forbid_unknown_fields=True):
    x: Any


class Skips(msgspec.Struct):
    x: int


class Loop(msgspec.Struct, forbid_unknown_fields=True):
    next: Loop | None = None


class Fixed(msgspec.Struct, forbid_unknown_fields=True):
    x: list[dict[str, int]]
    y: str | None = None


def test_what_bounds_a_schema() -> None:
    assert _schema_depth(mi.type_info(Free)) is None
    assert _schema_depth(mi.type_info(dict[str, Any])) is None
    assert _schema_depth(mi.type_info(Skips)) is None  # skipped unknown fields nest freely
    assert _schema_depth(mi.type_info(Loop)) is None
    assert _schema_depth(mi.type_info(Fixed)) == 3


def test_the_events_measured_after_decoding_are_those_holding_free_form_json() -> None:
    from rtcore.events.codec import _SERVER_TABLES

    assert beta.SessionUpdated in _SERVER_TABLES["beta"].free_form
    assert ga.SessionUpdated in _SERVER_TABLES["ga"].free_form
    # The streaming events every response is made of are bounded by their schema.
    assert beta.ResponseAudioTranscriptDelta not in _SERVER_TABLES["beta"].free_form
    assert ga.ResponseOutputAudioDelta not in _SERVER_TABLES["ga"].free_form


# -- which decoded events are measured (``_Table.holds_free_form``) ------------------------

MCP_TOOLS = '[{"name":"t","input_schema":%s}]'
MCP_ITEM = '{"type":"mcp_list_tools","id":"item_1","server_label":"s","tools":%s}'
MESSAGE_ITEM = (
    '{"type":"message","id":"item_1","role":"assistant","status":"completed",'
    '"content":[{"type":"output_text","text":"hi"}]}'
)
# GA events that may carry an item, and how deep the item's own object sits in them.
GA_ITEM_EVENTS = {
    "conversation.item.added": ('{"type":"conversation.item.added","event_id":"e","item":%s}', 2),
    "conversation.item.done": ('{"type":"conversation.item.done","event_id":"e","item":%s}', 2),
    "conversation.item.retrieved": (
        '{"type":"conversation.item.retrieved","event_id":"e","item":%s}',
        2,
    ),
    "response.output_item.added": (
        '{"type":"response.output_item.added","event_id":"e","response_id":"r",'
        '"output_index":0,"item":%s}',
        2,
    ),
    "response.output_item.done": (
        '{"type":"response.output_item.done","event_id":"e","response_id":"r",'
        '"output_index":0,"item":%s}',
        2,
    ),
    "response.done": (
        '{"type":"response.done","event_id":"e","response":{"id":"r","status":"completed",'
        '"output":[%s]}}',
        4,
    ),
}


@pytest.mark.parametrize("event_type", sorted(GA_ITEM_EVENTS))
def test_free_form_json_in_a_ga_item_is_measured(event_type: str) -> None:
    """An ``mcp_list_tools`` item's ``input_schema`` is free-form: a GA event carrying one is
    measured after the typed decode, through both decoders, to the level."""
    template, item_level = GA_ITEM_EVENTS[event_type]
    # Levels above the schema: the item's, its tools array, the tool.
    above = item_level + 2
    fits = template % (MCP_ITEM % (MCP_TOOLS % _schema(LIMIT - above)))
    deep = template % (MCP_ITEM % (MCP_TOOLS % _schema(LIMIT - above + 1)))
    received = server_decoder("ga")
    assert len(deep) < 2048  # the ordinary path, not the audio one
    for decode in (received, lambda d: ev.decode_server_event(d, dialect="ga")):
        assert decode(fits).type == event_type
        for data in (deep, deep.encode()):
            with pytest.raises(DecodeError, match="nested deeper"):
                decode(data)


def test_a_deep_mcp_listing_leaves_the_client_state_as_it_was() -> None:
    template, item_level = GA_ITEM_EVENTS["conversation.item.added"]
    client = ClientSession(dialect="ga")
    before = client.state
    deep = template % (MCP_ITEM % (MCP_TOOLS % _schema(LIMIT)))
    (error,) = client.receive_message(deep.encode())
    assert isinstance(error, RemoteProtocolError) and "nested deeper" in str(error)
    assert client.state.conversation == before.conversation
    assert list(client.state.protocol_errors) == [error]


@pytest.mark.parametrize("event_type", sorted(GA_ITEM_EVENTS))
def test_a_ga_item_event_without_free_form_json_is_not_measured(
    event_type: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A message item (the usual case) is bounded by its schema: the bytes are not read again.
    An MCP listing in the same event is."""
    measured: list[bytes | str] = []
    monkeypatch.setattr(codec, "_refuse_deep", measured.append)
    template, _ = GA_ITEM_EVENTS[event_type]
    received = server_decoder("ga")
    assert received(template % MESSAGE_ITEM).type == event_type
    assert measured == []
    listing = template % (MCP_ITEM % (MCP_TOOLS % "{}"))
    assert received(listing).type == event_type
    assert measured == [listing]


def test_a_session_is_measured_when_it_holds_free_form_json(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    measured: list[bytes | str] = []
    monkeypatch.setattr(codec, "_refuse_deep", measured.append)
    for dialect, template in SESSION_UPDATED.items():
        received = server_decoder(dialect)  # type: ignore[arg-type]
        with_tools = template % "1"
        without = with_tools.replace(
            ',"tools":[{"type":"function","name":"f","parameters":{"x":1}}]', ""
        )
        assert received(without).type == "session.updated"
        assert measured == []
        assert received(with_tools).type == "session.updated"
        assert measured == [with_tools]
        measured.clear()
    tracing = '{"type":"session.updated","event_id":"e","session":{"type":"realtime","tracing":%s}}'
    received = server_decoder("ga")
    assert received(tracing % '"auto"').type == "session.updated"
    assert measured == []
    assert received(tracing % '{"metadata":{"a":1}}').type == "session.updated"
    assert len(measured) == 1


def test_every_free_form_event_is_bounded_without_its_free_form_fields() -> None:
    """What lets an event whose test is false go unmeasured: without its free-form values,
    its schema nests no deeper than the limit (a class where that fails is always measured)."""
    for dialect in ("beta", "ga"):
        table = codec._SERVER_TABLES[dialect]
        tests = table.holds_free_form()
        assert set(tests) == set(table.free_form)
        for cls in table.free_form:
            bound = _schema_depth(mi.type_info(cls), free_form_absent=True)
            assert bound is not None and bound <= LIMIT, cls
            assert tests[cls] is not depth._ALWAYS, cls


class Tagged(msgspec.Struct, forbid_unknown_fields=True, tag=True):
    x: Any = None


class Plain(msgspec.Struct, forbid_unknown_fields=True, tag=True):
    y: int = 0


class Holder(msgspec.Struct, forbid_unknown_fields=True):
    choice: Literal["auto"] | Tagged = "auto"
    many: list[Tagged | Plain] = []
    free: dict[str, Any] | None = None
    loop: Loop | None = None


def test_what_a_free_form_test_looks_at() -> None:
    holds = depth._holds_free_form(mi.type_info(Holder))
    assert holds is not None
    assert not holds(Holder())
    assert not holds(Holder(choice=Tagged()))  # null holds nothing
    assert holds(Holder(choice=Tagged(x=[1])))
    assert not holds(Holder(many=[Plain(), Tagged()]))
    assert holds(Holder(many=[Plain(), Tagged(x={})]))
    assert holds(Holder(free={}))
    # A type that refers to itself: where it comes round again, it is free-form.
    assert holds(Holder(loop=Loop(next=Loop())))
    # ... so no depth bounds a Holder even without its free-form values: a table measures
    # every event of such a class (``_ALWAYS``). Without ``loop``, one would be bounded.
    assert _schema_depth(mi.type_info(Holder), free_form_absent=True) is None
    assert _schema_depth(mi.type_info(Tagged), free_form_absent=True) == 1
    assert depth._holds_free_form(mi.type_info(Fixed)) is None
