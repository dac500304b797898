"""One maximal message within the bounds costs every other session little (issue 22).

A client may send a message of up to 16 MiB that is within every bound: a
``session.update`` with a 15 MiB tool JSON Schema has few values and fits the session
budget. What the server does with it on the event loop, every other session waits for
(``test_attack_serve`` measures that wait against ``rtcore serve``). Each part of what keeps
that wait short is checked here:

* both bounds of a large message, its values and its nesting, are read from one pass over
  its bytes (``explain._check_structure``: its marks copied out once), and they agree with
  a plain reading of the JSON;
* a masked frame that arrives in many reads is unmasked in place as it comes and copied out
  once when it is complete;
* a large event goes out as its frame's header and its payload, never joined into one frame
  first, and arrives intact (``text_frame_head``);
* the session's work on a large message comes in parts, and the connection gives the loop
  back between them (``_Connection._give_back``), on both I/O paths;
* ``rtcore serve`` makes its decoding tables when it starts, not on a client's first
  message, and freezes the objects it made before serving out of the collector's reach.
"""

from __future__ import annotations

import gc
import json
import tracemalloc
from collections.abc import Iterator
from typing import Any

import pytest
import trio
from attackkit import running, url_of
from hypothesis import given
from hypothesis import strategies as st
from wirekit import frame

from rtcore import events as ev
from rtcore.events import codec, explain, ga
from rtcore.events.explain import MAX_NESTING_DEPTH, _check_structure
from rtcore.wire import ClientConnection, ConnectionClosed, HandshakeRequest, ServerConnection
from rtcore.wire.frames import text_frame, text_frame_head
from rtcore_trio import RealtimeServer, cli, connect
from rtcore_trio.connection import STEP_BYTES, _Connection

MIB = 1024 * 1024


def _schema_update(properties: int, description: int) -> bytes:
    """A GA ``session.update`` setting one function tool whose schema has long descriptions."""
    member = json.dumps({"type": "string", "description": "d" * description})
    members = ",".join(f'"p{i}":{member}' for i in range(properties))
    tool = '{"type":"function","name":"f","parameters":{"type":"object","properties":{%s}}}'
    session = '{"type":"realtime","tools":[' + tool % members + "]}"
    return ('{"type":"session.update","session":' + session + "}").encode()


# -- both bounds from one pass --------------------------------------------------------------------


def _shape(value: Any) -> tuple[int, int]:
    """A parsed JSON value's structure, read plainly: (its objects and arrays plus the commas
    between their elements, its nesting depth)."""
    if isinstance(value, list):
        items = value
    elif isinstance(value, dict):
        items = list(value.values())
    else:
        return 0, 0
    count, depth = 1 + max(len(items) - 1, 0), 0
    for item in items:
        inner_count, inner_depth = _shape(item)
        count += inner_count
        depth = max(depth, inner_depth)
    return count, depth + 1


TEXT = st.text(alphabet='ab"\\[]{},:\n\u00e9', max_size=6)
JSON = st.recursive(
    st.one_of(st.none(), st.integers(), TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=60,
)


@given(JSON, st.integers(0, 70), st.integers(1, 120), st.booleans(), st.booleans())
def test_the_one_pass_agrees_with_a_plain_reading(
    value: Any, wrap: int, limit: int, as_text: bool, ascii_only: bool
) -> None:
    for level in range(wrap):
        value = [value] if level % 2 else {"k": value}
    text = json.dumps(value, ensure_ascii=ascii_only)
    count, depth = _shape(value)
    try:
        _check_structure(text if as_text else text.encode(), limit)
        refused = None
    except ev.DecodeError as err:
        refused = err.code if err.code == "message_above_max_values" else err.reason
    if count > limit:
        assert refused == "message_above_max_values"
    elif depth > MAX_NESTING_DEPTH:
        assert refused == f"nested deeper than {MAX_NESTING_DEPTH} levels"
    else:
        assert refused is None


@pytest.mark.parametrize("escapes", [10, 5000])  # the regular expression, then the replacements
def test_escaped_quotes_and_backslashes_hide_no_structure(escapes: int) -> None:
    # Brackets and commas inside strings, behind escaped quotes and escaped backslashes.
    text = '\\"[{,' * escapes + "\\\\"
    shallow = json.dumps({"a": [text, {"b": text}], "c": [[[[text]]]]})
    _check_structure(shallow, 100)
    deep = json.dumps({"a": text, "b": json.loads("[" * 65 + "]" * 65)})
    with pytest.raises(ev.DecodeError, match="nested deeper"):
        _check_structure(deep, 100)
    with pytest.raises(ev.DecodeError) as info:
        _check_structure(json.dumps({"a": text, "b": list(range(100))}), 100)
    assert info.value.code == "message_above_max_values"


@pytest.fixture
def passes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The sizes of the messages whose marks were copied out (one pass over each)."""
    seen: list[int] = []
    marks = explain._marks

    def counted(data: bytes) -> bytes:
        seen.append(len(data))
        return marks(data)

    monkeypatch.setattr(explain, "_marks", counted)
    yield seen


def test_a_large_schema_is_read_once_for_both_bounds(passes: list[int]) -> None:
    message = _schema_update(2000, 100)  # some 300 kB: thousands of brackets, few values
    event = ev.decode_client_event(message, dialect="ga", strict=True, max_values=65536)
    assert isinstance(event, ga.SessionUpdate)
    assert passes == [len(message)]
    deep = message.replace(b'"type":"object"', b'"type":"object","x":' + b"[" * 70 + b"]" * 70)
    with pytest.raises(ev.DecodeError, match="nested deeper"):
        ev.decode_client_event(deep, dialect="ga", strict=True, max_values=65536)
    assert passes == [len(message), len(deep)]


def test_without_the_values_bound_a_large_message_is_read_once_for_its_nesting(
    passes: list[int],
) -> None:
    message = _schema_update(2000, 100)
    assert isinstance(ev.decode_client_event(message, dialect="ga", strict=True), ga.SessionUpdate)
    assert passes == [len(message)]


# -- a masked frame read in many pieces -----------------------------------------------------------


def _accepted() -> ServerConnection:
    server = ServerConnection()
    server.receive_data(ClientConnection("ws://127.0.0.1:1/v1/realtime").data_to_send())
    [request] = list(server.events())
    assert isinstance(request, HandshakeRequest)
    server.accept()
    server.data_to_send()
    return server


def _instructions(text: str) -> bytes:
    update = {"type": "session.update", "session": {"type": "realtime", "instructions": text}}
    return frame(1, json.dumps(update, ensure_ascii=False).encode(), mask=True)


def _fed(server: ServerConnection, data: bytes, read: int = 65536) -> list[Any]:
    events: list[Any] = []
    for at in range(0, len(data), read):
        server.receive_data(data[at : at + read])
        events.extend(server.events())
    return events


@pytest.mark.parametrize(
    "text",
    [
        "a" * (3 * MIB),  # ASCII throughout
        "\u00e9" + "a" * (3 * MIB),  # not ASCII in the first read
        "a" * (3 * MIB) + "\u00e9",  # not ASCII only in the rest, unmasked at the end
    ],
)
def test_a_large_frame_read_in_pieces_arrives_intact(text: str) -> None:
    server = _accepted()
    [event] = _fed(server, _instructions(text))
    assert isinstance(event, ga.SessionUpdate)
    assert event.session.instructions == text


def test_invalid_utf8_in_the_rest_of_a_large_frame_closes_with_1007() -> None:
    server = _accepted()
    payload = b'{"type":"session.update","session":{"instructions":"' + b"a" * (3 * MIB)
    events = _fed(server, frame(1, payload + b'\xff"}}', mask=True))
    assert [type(e) for e in events] == [ConnectionClosed]
    assert events[0].code == 1007


def test_a_large_frame_is_copied_once_when_it_is_complete() -> None:
    server = _accepted()
    data = _instructions("a" * (8 * MIB))
    reads = [data[at : at + 65536] for at in range(0, len(data), 65536)]
    for read in reads[:-1]:
        server.receive_data(read)
        assert list(server.events()) == []
    tracemalloc.start()
    try:
        server.receive_data(reads[-1])
        messages = list(server._socket._messages())  # the frame, not yet decoded
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [len(m) for m in messages] == [len(data) - 14]
    # The payload once (and the last read): joining a copy of its beginning to its
    # unmasked rest held it twice.
    assert peak < 1.2 * len(data), peak


# -- a large event written as header and payload -------------------------------------------------


@pytest.mark.parametrize("n", [0, 125, 126, 65535, 65536, 3 * MIB])
def test_a_frame_head_and_its_payload_are_the_frame(n: int) -> None:
    payload = b"x" * n
    assert text_frame_head(n) + payload == text_frame(payload)


async def test_large_events_arrive_intact_over_a_socket() -> None:
    text = "i" * (2 * MIB)  # each echo is over WRITE_BATCH: written as header, then payload
    server = RealtimeServer()
    async with running(server):
        async with connect(url_of(server), dialect="ga", ping_interval=None) as rt:
            await rt.send(ga.SessionUpdate(session=ga.RealtimeSessionConfig(instructions=text)))
            item = {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": text}],
            }
            await rt.send(ga.ConversationItemCreate(item=item))
            got: list[Any] = []
            with trio.fail_after(30):
                async for event, _ in rt:
                    got.append(event)
                    if isinstance(event, ga.ConversationItemDone):
                        break
    [updated] = [e for e in got if isinstance(e, ga.SessionUpdated)]
    assert updated.session.instructions == text
    for kind in (ga.ConversationItemAdded, ga.ConversationItemDone):
        [done] = [e for e in got if isinstance(e, kind)]
        assert done.item.content[0].text == text


# -- the loop given back between the parts of a large message's work --------------------------------


@pytest.fixture
def give_backs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """When each connection gave the loop back (the trio clock)."""
    times: list[float] = []
    give_back = _Connection._give_back

    async def recorded(self: _Connection) -> None:
        times.append(trio.current_time())
        await give_back(self)

    monkeypatch.setattr(_Connection, "_give_back", recorded)
    yield times


async def test_a_large_message_gives_the_loop_back_between_its_parts(
    give_backs: list[float],
) -> None:
    server = RealtimeServer()
    large = "l" * STEP_BYTES
    async with running(server):
        async with connect(url_of(server), dialect="ga", ping_interval=None) as rt:
            for instructions in ("small", large, "small again"):
                await rt.send(
                    ga.SessionUpdate(session=ga.RealtimeSessionConfig(instructions=instructions))
                )
                with trio.fail_after(30):
                    async for event, _ in rt:
                        if isinstance(event, ga.SessionUpdated):
                            assert event.session.instructions == instructions
                            break
                # Once decoded, before the session handles it; once handled, before its answer.
                assert len(give_backs) == (0 if instructions == "small" else 2)


def test_rtcore_serve_makes_its_tables_and_freezes_them_before_serving(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The decoding tables of the dialects served are made at the start, not on a client's
    # first message. Then everything made so far is frozen: a full collection walks only
    # what sessions made, not the interpreter's modules and classes (some 45 000 objects,
    # 50-60 ms of every session's loop each time).
    monkeypatch.setattr(codec, "_CLIENT_TABLES", codec._Tables(codec._client_table))
    served: list[RealtimeServer] = []
    monkeypatch.setattr(trio, "run", lambda _serve, server, *address: served.append(server))
    gc.unfreeze()
    try:
        assert cli.main(["serve", "--port", "0", "--dialects", "beta"]) == 0
        assert len(served) == 1 and gc.get_freeze_count() > 0
        assert set(codec._CLIENT_TABLES) == {"beta"}
    finally:
        gc.unfreeze()
