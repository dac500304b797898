"""Closed sessions are freed without the cyclic garbage collector (issue 22, item 3).

A ``ServerSession`` and its parts hold no reference cycle: no part holds the session or one of
its bound methods, and the id factory's "is this id taken" test holds the record, not the
session. So when the last reference to a closed session goes, reference counting frees it and
everything it holds (items, responses, function calls, MCP listings) at once - checked here with
the cyclic collector disabled, a weak reference to the session, and the collector's own count of
what it would have had to free. Over a real socket the same holds for the trio server's
per-connection objects: a session whose client left is gone without a ``gc.collect()``.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import weakref
from collections.abc import Iterator
from typing import Any

import pytest
import trio
from attackkit import RawClient, running, url_of, wait_for
from serverkit import silence, tone

from rtcore import SequentialIds
from rtcore import events as ev
from rtcore.events import beta, ga
from rtcore.server import ListMcpTools, McpCallChunk, McpResultChunk, ServerSession, StartResponse
from rtcore.server.effects import Transcribe
from rtcore_trio import RealtimeServer, connect

SEARCH = ga.McpListedTool(name="search", input_schema={"type": "object"})


def _send(session: ServerSession, message: dict[str, Any]) -> list[Any]:
    return session.receive_message(json.dumps(message))


def _user_text(text: str) -> dict[str, Any]:
    content = [{"type": "input_text", "text": text}]
    return {
        "type": "conversation.item.create",
        "item": {"type": "message", "role": "user", "content": content},
    }


def _answer(session: ServerSession, effects: list[Any], *, mcp: bool) -> None:
    """Answer every response with text, a function call and (GA) an MCP call."""
    for effect in effects:
        if isinstance(effect, StartResponse):
            rid = effect.response_id
            session.add_text(rid, "hello " * 50)
            session.start_function_call(rid, "lookup")
            session.add_arguments(rid, '{"q": "x"}')
            if mcp:
                session.produce(
                    rid, McpCallChunk(server_label="docs", name="search", arguments="{}")
                )
                session.produce(rid, McpResultChunk(output="found"))
            session.finish_response(rid)
        elif isinstance(effect, ListMcpTools):
            session.complete_mcp_listing(effect.item_id, [SEARCH])


def _used_session(dialect: ev.Dialect, close: str) -> weakref.ref[ServerSession]:
    """A session that held items, responses, calls, audio and (GA) MCP listings, then closed."""
    session = ServerSession(dialect=dialect, id_factory=SequentialIds())
    tools: list[dict[str, Any]] = [{"type": "function", "name": "lookup", "parameters": {}}]
    if dialect == "ga":
        tools.append(
            {
                "type": "mcp",
                "server_label": "docs",
                "server_url": "https://docs.test/mcp",
                "require_approval": "never",
            }
        )
        update: dict[str, Any] = {"type": "realtime", "instructions": "Be brief.", "tools": tools}
    else:
        update = {"instructions": "Be brief.", "tools": tools, "turn_detection": None}
    _answer(session, _send(session, {"type": "session.update", "session": update}), mcp=False)
    for n in range(4):
        _send(session, _user_text(f"question {n} " * 100))
    import base64

    audio = base64.b64encode(tone(300) + silence(100)).decode()
    _send(session, {"type": "input_audio_buffer.append", "audio": audio})
    _send(session, {"type": "input_audio_buffer.commit"})
    _answer(session, _send(session, {"type": "response.create"}), mcp=dialect == "ga")
    running = [
        e for e in _send(session, {"type": "response.create"}) if isinstance(e, StartResponse)
    ]
    session.add_text(running[0].response_id, "cut short")  # open when the session closes
    session.messages_to_send()
    getattr(session, close)()
    return weakref.ref(session)


@pytest.fixture
def no_cyclic_gc() -> Iterator[None]:
    """The cyclic collector off (what it would find is counted, then the state is restored)."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.mark.parametrize("dialect", ["ga", "beta"])
@pytest.mark.parametrize("close", ["disconnect", "shutdown", "expire"])
def test_a_closed_session_is_freed_by_reference_counting(
    dialect: ev.Dialect, close: str, no_cyclic_gc: None
) -> None:
    _used_session(dialect, close)  # warm up: first uses of types build caches, not garbage
    gc.collect()
    ref = _used_session(dialect, close)
    assert ref() is None, "the closed session is still alive: a reference cycle holds it"
    assert gc.collect() == 0, "a closed session left cyclic garbage behind"


def test_a_session_dropped_without_closing_is_freed_too(no_cyclic_gc: None) -> None:
    session = ServerSession()
    _send(session, _user_text("hello"))
    ref = weakref.ref(session)
    del session
    assert ref() is None


def test_a_transcription_session_is_freed(no_cyclic_gc: None) -> None:
    import base64

    session = ServerSession(dialect="beta", intent="transcription")
    audio = base64.b64encode(tone(300)).decode()
    _send(session, {"type": "input_audio_buffer.append", "audio": audio})
    effects = _send(session, {"type": "input_audio_buffer.commit"})
    for effect in effects:
        if isinstance(effect, Transcribe):
            session.complete_transcription(effect.item_id, "hello")
    session.disconnect()
    ref = weakref.ref(session)
    del session, effects
    assert ref() is None


async def test_over_a_socket_a_closed_connections_session_is_freed_without_the_collector() -> None:
    server = RealtimeServer()
    async with running(server):
        for _ in range(2):  # the first warms up caches
            gc.collect()
            gc.disable()
            try:
                async with connect(url_of(server), dialect="beta", ping_interval=None) as rt:
                    await rt.send(
                        beta.SessionUpdate(
                            session=beta.SessionConfig(modalities=("text",), turn_detection=None)
                        )
                    )
                    await rt.send(
                        beta.ConversationItemCreate(
                            item=beta.MessageItem(
                                role="user", content=(ev.InputTextContent(text="hi " * 1000),)
                            )
                        )
                    )
                    await rt.send(beta.ResponseCreate())
                    async for event, _ in rt:
                        if isinstance(event, beta.ResponseDone):
                            break
                    await wait_for(lambda: len(server._live) == 1, what="the session")
                    [connection] = server._live
                    ref = weakref.ref(connection.session)
                    del connection
                await wait_for(lambda: server.connections == 0, what="the connection's end")
                await trio.sleep(0.05)
                assert ref() is None, "the closed connection's session is still alive"
            finally:
                gc.enable()


def _rss() -> int:
    """This process's resident memory, in bytes (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _large_blocks_mapped() -> None:
    """Make glibc's malloc give every block of 1 MiB or more its own mapping, returned to
    the kernel when freed. By default it raises that threshold to the size of the last
    such block freed, and later blocks come from its heap, which it keeps: RSS then swings
    by a whole session from one measure to the next whether or not anything leaked."""
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        pytest.skip("needs glibc's mallopt")
    m_mmap_threshold = -3
    if not mallopt(m_mmap_threshold, 1 << 20):
        pytest.skip("mallopt refused M_MMAP_THRESHOLD")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads /proc")
async def test_soak_large_sessions_opened_and_closed_give_their_memory_back() -> None:
    """Eight sessions, each holding 4 user items of 4 MiB, one after another over a socket
    with the cyclic collector off: the memory comes back after each one closes."""
    server = RealtimeServer()
    text = "x" * 4 * 1024 * 1024
    create = {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        },
    }
    _large_blocks_mapped()
    async with running(server):
        gc.collect()
        gc.disable()
        try:
            growth = []
            for n in range(8):
                client = await RawClient.open(server.port)  # type: ignore[arg-type]
                for i in range(4):
                    await client.send_json(create)
                    with trio.fail_after(30):  # read its echo before sending the next
                        while len(client.received) < (i + 1) * len(text):
                            client.received += await client.stream.receive_some(1 << 20)
                client.received = bytearray()
                await client.aclose()
                del client
                await wait_for(lambda: server.connections == 0, what="the connection's end")
                if n == 0:
                    before = _rss()  # after the first: the allocator's own pools are warm
                growth.append(_rss() - before)
            # Each session held 16 MiB (and its echoes as much again while it lived): a leak
            # of even an eighth of that per session would reach 14 MiB by the last. With
            # large blocks mapped, what the allocator keeps is small pools, never MiBs.
            assert max(growth) < 8 * 1024 * 1024, growth
        finally:
            gc.enable()
