"""``RelayServer`` on loopback: hooks, keys, failures of the upstream, the command line.

The clients are ``rtcore_trio.connect``; the upstream is an in-process
``RealtimeServer``, or for the failures it cannot produce on demand (a 1011
close, a stall) a few lines of ``rtcore.wire.ServerConnection`` over a trio
socket.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import pytest
import trio

from rtcore import events as ev
from rtcore.events import beta, ga
from rtcore.state import Snapshot
from rtcore.wire import HandshakeRequest, ServerConnection
from rtcore_trio import ConnectionClosedError, RealtimeServer, RelayContext, RelayServer, connect
from rtcore_trio.cli import main

UPSTREAM_KEY = "sk-upstream-secret-123"
RELAY_KEY = "sk-relay-secret-456"


@asynccontextmanager
async def upstream_server(**options: Any) -> AsyncIterator[RealtimeServer]:
    server = RealtimeServer(api_keys=[UPSTREAM_KEY], **options)
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve, "127.0.0.1", 0)
        yield server
        server.shutdown()


@asynccontextmanager
async def relay_to(url: str, **options: Any) -> AsyncIterator[RelayServer]:
    options.setdefault("upstream_key", UPSTREAM_KEY)
    relay = RelayServer(url, api_keys=[RELAY_KEY], **options)
    async with trio.open_nursery() as nursery:
        await nursery.start(relay.serve, "127.0.0.1", 0)
        yield relay
        relay.shutdown()


def url(server: RealtimeServer) -> str:
    return f"ws://127.0.0.1:{server.port}/v1/realtime"


async def until(client: Any, kind: str) -> Any:
    with trio.fail_after(5):
        async for event, _ in client:
            if getattr(event, "type", None) == kind:
                return event
    raise AssertionError(f"the connection ended before {kind}")


async def ending(client: Any) -> tuple[list[Any], int]:
    """Every event until the connection ends, and its close code."""
    seen = []
    with trio.fail_after(5):
        try:
            async for event, _ in client:
                seen.append(event)
        except ConnectionClosedError as closed:
            return seen, closed.code
    assert client.closed is not None
    return seen, client.closed.code


async def text_turn(client: Any, text: str = "hi", created: bool = False) -> Any:
    if not created:
        await until(client, "session.created")
    session = ga.RealtimeSessionConfig(
        output_modalities=("text",), audio=ga.AudioConfig(input=ga.AudioInput(turn_detection=None))
    )
    await client.send(ga.SessionUpdate(session=session))
    item = ga.MessageItem(role="user", content=(ev.InputTextContent(text=text),))
    await client.send(ga.ConversationItemCreate(item=item))
    await client.send(ga.ResponseCreate())
    return await until(client, "response.done")


async def test_hooks_rewrite_both_ways_and_see_both_snapshots() -> None:
    seen: list[tuple[str, ev.Dialect, ev.Dialect]] = []

    def on_client(event: ev.ClientEvent, ctx: RelayContext) -> ev.ClientEvent | None:
        assert isinstance(ctx.downstream, Snapshot) and isinstance(ctx.upstream, Snapshot)
        seen.append((event.type, ctx.client_dialect, ctx.upstream_dialect))
        if isinstance(event, ga.SessionUpdate) and isinstance(
            event.session, ga.RealtimeSessionConfig
        ):
            return ga.SessionUpdate(
                session=ga.RealtimeSessionConfig(instructions="Added by the relay.")
            )
        return event

    def on_server(event: Any, ctx: RelayContext) -> Any:
        return None if isinstance(event, ev.RateLimitsUpdated) else event

    async with (
        upstream_server() as up,
        relay_to(url(up), on_client_event=on_client, on_server_event=on_server) as relay,
    ):
        async with connect(
            f"ws://127.0.0.1:{relay.port}/v1/realtime", api_key=RELAY_KEY, dialect="beta"
        ) as client:
            await until(client, "session.created")
            await client.send(beta.SessionUpdate(session=beta.SessionConfig(instructions="mine")))
            updated = await until(client, "session.updated")
            assert updated.session.instructions == "Added by the relay."
            await client.send(beta.ResponseCreate())
            kinds = []
            async for event, _ in client:
                kinds.append(event.type)
                if event.type == "response.done":
                    break
            assert "rate_limits.updated" not in kinds and "response.text.delta" not in kinds
            assert "response.audio_transcript.delta" in kinds
    # The hook saw GA events (the upstream's dialect) though the client speaks beta.
    assert seen[:2] == [("session.update", "beta", "ga"), ("response.create", "beta", "ga")]


async def test_same_dialects_pass_through_and_keys_stay_out_of_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with upstream_server() as up, relay_to(url(up), dialects=("ga",)) as relay:
        async with connect(
            f"ws://127.0.0.1:{relay.port}/v1/realtime?model=gpt-x", api_key=RELAY_KEY
        ) as client:
            done = await text_turn(client, "through")
            assert done.response.output[0].content[0].text == "through"
            assert client.state.session is not None and client.state.session.model == "gpt-x"
        with pytest.raises(Exception, match="401"):
            async with connect(f"ws://127.0.0.1:{relay.port}/v1/realtime", api_key="sk-wrong"):
                pass
    assert relay.losses == {}
    assert UPSTREAM_KEY not in caplog.text and RELAY_KEY not in caplog.text
    assert any(r.name == "rtcore.relay" and "connected" in r.getMessage() for r in caplog.records)


async def test_an_upstream_that_refuses_gives_an_error_and_1011_and_spares_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with upstream_server(max_connections=1) as up, relay_to(url(up)) as relay:
        address = f"ws://127.0.0.1:{relay.port}/v1/realtime"
        async with connect(address, api_key=RELAY_KEY) as first:
            await until(first, "session.created")
            async with connect(address, api_key=RELAY_KEY) as second:
                events, code = await ending(second)
            assert code == 1011
            [error] = [e for e in events if isinstance(e, ev.ErrorEvent)]
            assert error.error.code == "upstream_unavailable" and "503" in error.error.message
            done = await text_turn(first, created=True)  # the first session goes on
            assert done.response.status == "completed"
    async with (
        upstream_server() as up,
        relay_to(url(up), upstream_key="sk-not-the-upstreams") as relay,
    ):
        async with connect(f"ws://127.0.0.1:{relay.port}/v1/realtime", api_key=RELAY_KEY) as client:
            events, code = await ending(client)
        assert code == 1011 and "401" in events[-1].error.message
    assert "sk-not-the-upstreams" not in caplog.text and RELAY_KEY not in caplog.text


async def test_an_unreachable_upstream_gives_an_error_and_1011() -> None:
    with trio.socket.socket() as unused:
        await unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    async with relay_to(f"ws://127.0.0.1:{port}/v1/realtime") as relay:
        async with connect(f"ws://127.0.0.1:{relay.port}/v1/realtime", api_key=RELAY_KEY) as client:
            events, code = await ending(client)
    assert code == 1011 and events[-1].error.code == "upstream_unavailable"


@asynccontextmanager
async def fake_upstream(
    then: Callable[[trio.SocketStream, ServerConnection], Awaitable[None]],
) -> AsyncIterator[str]:
    """An upstream that accepts, announces a session and then does ``then``."""

    async def handler(stream: trio.SocketStream) -> None:
        conn = ServerConnection(dialects=("ga",))
        while not conn.accepted:
            conn.receive_data(await stream.receive_some(65536))
            if any(isinstance(e, HandshakeRequest) for e in conn.events()):
                created = ga.SessionCreated(
                    event_id="event_1", session=ga.RealtimeSession(id="sess_1", model="m")
                )
                await stream.send_all(conn.accept() + conn.send(created))
        await then(stream, conn)

    async with trio.open_nursery() as nursery:
        [listener] = await nursery.start(partial(trio.serve_tcp, handler, 0, host="127.0.0.1"))
        yield f"ws://127.0.0.1:{listener.socket.getsockname()[1]}/v1/realtime"
        nursery.cancel_scope.cancel()


async def close_1011(stream: trio.SocketStream, conn: ServerConnection) -> None:
    await stream.send_all(conn.close(1011, "upstream failure"))
    with trio.move_on_after(2):
        while data := await stream.receive_some(65536):
            conn.receive_data(data)


async def stall(stream: trio.SocketStream, conn: ServerConnection) -> None:
    await trio.sleep_forever()  # reads nothing, answers no ping


@pytest.mark.parametrize(
    ("behaviour", "options"),
    [(close_1011, {}), (stall, {"upstream_timeout": 0.3, "upstream_ping_interval": 0.2})],
)
async def test_an_upstream_that_closes_or_stalls_ends_the_session_with_an_error(
    behaviour: Any, options: dict[str, Any]
) -> None:
    async with fake_upstream(behaviour) as address, relay_to(address, **options) as relay:
        async with connect(
            f"ws://127.0.0.1:{relay.port}/v1/realtime", api_key=RELAY_KEY, dialect="beta"
        ) as client:
            events, code = await ending(client)
    assert events[0].type == "session.created"  # translated to the beta client
    assert code == 1011
    assert events[-1].error.code == "upstream_closed"


def test_the_command_line_wants_an_upstream_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert main(["relay", "--upstream", "ws://127.0.0.1:1/v1/realtime"]) == 2
    assert "OPENAI_API_KEY" in capsys.readouterr().err
    monkeypatch.setenv("MY_KEY", "sk-x")
    assert main(["relay", "--upstream", "http://nowhere", "--upstream-key-env", "MY_KEY"]) == 2
    assert "ws:// or wss://" in capsys.readouterr().err


async def test_a_member_no_dialect_knows_is_refused_as_the_server_would() -> None:
    """The relay's machines read client events as strictly as a server: unknown members are
    refused by name (the engine's ``ClientSession`` cannot send them upstream anyway)."""
    import json

    import trio_websocket

    async with upstream_server() as up, relay_to(url(up)) as relay:
        address = f"ws://127.0.0.1:{relay.port}/v1/realtime"
        headers = [("Authorization", f"Bearer {RELAY_KEY}")]
        async with trio_websocket.open_websocket_url(address, extra_headers=headers) as ws:
            assert json.loads(await ws.get_message())["type"] == "session.created"
            session = {"type": "realtime", "future_member": 1}
            await ws.send_message(
                json.dumps({"type": "session.update", "event_id": "new", "session": session})
            )
            with trio.fail_after(5):
                error = json.loads(await ws.get_message())["error"]
    assert (error["code"], error["param"], error["event_id"]) == (
        "unknown_parameter",
        "session.future_member",
        "new",
    )


async def test_a_cassette_holds_both_sides_replays_to_the_same_snapshot_and_no_key(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from rtcore_trio.relay_record import read_cassette

    async with upstream_server() as up, relay_to(url(up), record=tmp_path) as relay:
        address = f"ws://127.0.0.1:{relay.port}/v1/realtime?model=m1"
        async with connect(address, api_key=RELAY_KEY, dialect="beta") as client:
            await until(client, "session.created")
            session = beta.SessionConfig(modalities=("text",), turn_detection=None)
            await client.send(beta.SessionUpdate(session=session))
            await client.send(beta.ResponseCreate())
            await until(client, "response.done")
            live = client.state
    [down] = list(tmp_path.glob("*[0-9].jsonl"))
    [up] = list(tmp_path.glob("*.upstream.jsonl"))
    for path in (down, up):
        assert RELAY_KEY not in path.read_text() and UPSTREAM_KEY not in path.read_text()
    cassette, upstream = read_cassette(down), read_cassette(up)
    assert (cassette.client_dialect, cassette.upstream_dialect, cassette.side) == (
        "beta",
        "ga",
        "down",
    )
    assert upstream.side == "up"
    assert cassette.handshake["query"] == {"model": "m1"}
    assert all(name != "authorization" for name, _ in cassette.handshake["headers"])
    kinds = {(e.dir, e.type) for e in cassette.entries}
    assert ("client", "session.update") in kinds and ("server", "response.text.delta") in kinds
    assert ("server", "response.output_text.delta") in {(e.dir, e.type) for e in upstream.entries}
    times = [e.t for e in cassette.entries]
    assert times == sorted(times) and times[0] >= 0
    # A cassette is a trace: `rtcore replay` rebuilds the client's snapshot from it.
    assert main(["replay", str(down), "--json", "--dialect", "beta"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(live.to_dict()))


def test_secrets_in_messages_are_redacted() -> None:
    from rtcore_trio.relay_record import redact

    session = b'{"type":"session.created","session":{"id":"s","client_secret":{"value":"ek_1","expires_at":1}}}'
    assert b"ek_1" not in redact(session)
    tool = b'{"type":"session.update","session":{"tools":[{"type":"mcp","server_label":"x","authorization":"tok"}]}}'
    assert b"tok" not in redact(tool) and b'"server_label":"x"' in redact(tool)
    delta = b'{"type":"response.output_text.delta","delta":"authorization"}'
    assert redact(delta) is delta


async def test_a_failing_hook_ends_its_session_only() -> None:
    def on_client(event: ev.ClientEvent, ctx: RelayContext) -> ev.ClientEvent | None:
        if isinstance(event, ga.ResponseCreate):
            raise RuntimeError("the app's hook is broken")
        return event

    async with upstream_server() as up, relay_to(url(up), on_client_event=on_client) as relay:
        address = f"ws://127.0.0.1:{relay.port}/v1/realtime"
        async with (
            connect(address, api_key=RELAY_KEY) as broken,
            connect(address, api_key=RELAY_KEY) as other,
        ):
            await until(broken, "session.created")
            await broken.send(ga.ResponseCreate())
            events, code = await ending(broken)
            assert code == 1011 and events[-1].error.code == "server_error"
            await until(other, "session.created")
            await other.send(ga.InputAudioBufferClear())
            await until(other, "input_audio_buffer.cleared")
    assert relay.failures == 1
