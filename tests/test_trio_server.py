"""``rtcore_trio.serve`` on loopback: keys, limits, timeouts, concurrency, cancellation, shutdown."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
from serverkit import silence, tone

from rtcore import events as ev
from rtcore.events import beta, ga
from rtcore.server import Finish, ServerLimits, TextChunk
from rtcore_sim import EchoBackend, ResponseRequest
from rtcore_trio import ConnectionClosedError, HandshakeError, RealtimeServer, connect


@asynccontextmanager
async def running(server: RealtimeServer) -> AsyncIterator[str]:
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve, "127.0.0.1", 0)
        yield f"ws://127.0.0.1:{server.port}/v1/realtime?model=gpt-4o-realtime-preview"
        server.shutdown()


async def until(rt: Any, kind: type[Any] | tuple[type[Any], ...]) -> Any:
    async for event, _ in rt:
        if isinstance(event, kind):
            return event
    raise AssertionError(f"no {kind!r}")


TEXT_ONLY = beta.SessionUpdate(
    session=beta.SessionConfig(modalities=("text",), turn_detection=None)
)


async def text_turn(rt: Any, text: str) -> str:
    await rt.send(
        beta.ConversationItemCreate(
            item=beta.MessageItem(role="user", content=(ev.InputTextContent(text=text),))
        )
    )
    await rt.send(beta.ResponseCreate())
    done = await until(rt, beta.ResponseDone)
    item = rt.state.response_items(done.response.id)[0]
    return str(item.content[0].text.value)


# -- keys and paths ----------------------------------------------------------------------------


@pytest.mark.parametrize("auth", ["bearer", "api-key", "subprotocol"])
async def test_every_key_style_is_accepted(auth: str) -> None:
    async with running(RealtimeServer(api_keys=["sk-good"])) as url:
        async with connect(url, dialect="beta", api_key="sk-good", auth=auth) as rt:  # type: ignore[arg-type]
            created = await until(rt, beta.SessionCreated)
            assert created.session.model == "gpt-4o-realtime-preview"


@pytest.mark.parametrize("key", [None, "sk-bad"])
async def test_wrong_or_missing_keys_are_refused_before_the_session(key: str | None) -> None:
    async with running(RealtimeServer(api_keys=["sk-good"])) as url:
        with pytest.raises(HandshakeError) as info:
            async with connect(url, dialect="beta", api_key=key):
                pass  # pragma: no cover
    assert info.value.status_code == 401
    body = json.loads(info.value.body)
    assert body["error"]["code"] == ("missing_api_key" if key is None else "invalid_api_key")


async def test_an_unknown_path_is_404() -> None:
    server = RealtimeServer()
    async with running(server) as url:
        with pytest.raises(HandshakeError) as info:
            async with connect(url.replace("/v1/realtime", "/v1/chat")):
                pass  # pragma: no cover
    assert info.value.status_code == 404


@pytest.mark.parametrize("dialect", ["ga", "beta"])
async def test_the_connection_log_says_which_dialect_was_chosen(
    dialect: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="rtcore.serve")
    async with running(RealtimeServer()) as url:
        async with connect(url, dialect=dialect) as rt:  # type: ignore[arg-type]
            created = await until(rt, (beta.SessionCreated, ga.SessionCreated))
    [line] = [r.getMessage() for r in caplog.records if " connected: " in r.getMessage()]
    assert line.endswith(
        f"connected: session {created.session.id}, model gpt-4o-realtime-preview, dialect {dialect}"
    )


async def test_a_refused_dialect_is_logged_with_its_name(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="rtcore.serve")
    async with running(RealtimeServer(dialects=("beta",))) as url:
        with pytest.raises(HandshakeError) as info:
            async with connect(url, dialect="ga"):
                pass  # pragma: no cover
    assert info.value.status_code == 400
    assert any(
        r.getMessage().endswith("refused: the ga dialect is not served") for r in caplog.records
    )


# -- conversations -----------------------------------------------------------------------------


async def test_many_concurrent_sessions() -> None:
    results: dict[int, str] = {}

    async with running(RealtimeServer()) as url:

        async def one(n: int) -> None:
            async with connect(url, dialect="beta") as rt:
                await rt.send(TEXT_ONLY)
                results[n] = await text_turn(rt, f"hello {n}")

        async with trio.open_nursery() as nursery:
            for n in range(25):
                nursery.start_soon(one, n)
    assert results == {n: f"hello {n}" for n in range(25)}


async def test_an_audio_turn_with_vad_transcription_and_echo() -> None:
    async with running(RealtimeServer()) as url:
        async with connect(url, dialect="beta") as rt:
            await rt.send(
                beta.SessionUpdate(
                    session=beta.SessionConfig(
                        input_audio_transcription=beta.InputAudioTranscription()
                    )
                )
            )
            audio = silence(200) + tone(800) + silence(300)
            for offset in range(0, len(audio), 960):
                await rt.send(ev.InputAudioBufferAppend(audio=audio[offset : offset + 960]))
            done = await until(rt, beta.ResponseDone)
            [answer] = rt.state.response_items(done.response.id)
            part = answer.content[0]
            # Speech 200-1000 ms, prefix back to 0, stop at 1200: 1.2 s committed; the echo
            # backend waited for the transcript and spoke it, 50 ms a character.
            assert part.transcript.value == "[1.20 s of audio]"
            assert part.audio_ms == len("[1.20 s of audio]") * 50
            assert rt.state.items[0].content[0].transcript.value == "[1.20 s of audio]"


class Slow:
    """A backend that talks slowly and notes when it was cancelled."""

    def __init__(self) -> None:
        self.cancelled = trio.Event()
        self.started = trio.Event()

    async def respond(self, request: ResponseRequest) -> AsyncIterator[Any]:
        try:
            self.started.set()
            for word in ["one ", "two ", "three ", "four "] * 50:
                yield TextChunk(word)
                await trio.sleep(0.01)
            yield Finish()
        except trio.Cancelled:
            self.cancelled.set()
            raise


async def test_a_client_cancel_cancels_the_backend() -> None:
    backend = Slow()
    async with running(RealtimeServer(backend)) as url:
        async with connect(url, dialect="beta") as rt:
            await rt.send(TEXT_ONLY)
            await rt.send(beta.ResponseCreate())
            await until(rt, beta.ResponseTextDelta)
            await rt.send(ev.ResponseCancel())
            done = await until(rt, beta.ResponseDone)
            assert done.response.status == "cancelled"
            with trio.fail_after(2):
                await backend.cancelled.wait()


async def test_speech_cancels_the_backend() -> None:
    backend = Slow()
    async with running(RealtimeServer(backend)) as url:
        async with connect(url, dialect="beta") as rt:
            await rt.send(beta.ResponseCreate())
            await until(rt, beta.ResponseTextDelta)
            await rt.send(ev.InputAudioBufferAppend(audio=tone(200)))
            done = await until(rt, beta.ResponseDone)
            assert done.response.status_details == ev.StatusDetails(
                type="cancelled", reason="turn_detected"
            )
            with trio.fail_after(2):
                await backend.cancelled.wait()


class Broken:
    async def respond(self, request: ResponseRequest) -> AsyncIterator[Any]:
        yield TextChunk("half")
        raise RuntimeError("the model fell over")


async def test_a_failing_backend_fails_its_response_not_the_server() -> None:
    async with running(RealtimeServer(Broken())) as url:
        async with connect(url, dialect="beta") as rt:
            await rt.send(TEXT_ONLY)
            await rt.send(beta.ResponseCreate())
            done = await until(rt, beta.ResponseDone)
            assert done.response.status == "failed"
            assert done.response.status_details.error.code == "backend_error"
            await rt.send(beta.ResponseCreate())  # the session goes on
            assert (await until(rt, beta.ResponseDone)).response.status == "failed"


# -- limits and timeouts ---------------------------------------------------------------------------


async def test_oversized_messages_close_with_1009() -> None:
    async with running(RealtimeServer(max_message_size=10_000)) as url:
        async with connect(url, dialect="beta") as rt:
            await until(rt, beta.SessionCreated)
            await rt.send(ev.InputAudioBufferAppend(audio=bytes(20_000)))
            with pytest.raises(ConnectionClosedError) as info:
                async for _ in rt:
                    pass
            assert info.value.code == 1009


async def test_a_full_buffer_is_an_error_event() -> None:
    async with running(RealtimeServer(limits=ServerLimits(max_buffer_bytes=4800))) as url:
        async with connect(url, dialect="beta") as rt:
            await rt.send(beta.SessionUpdate(session=beta.SessionConfig(turn_detection=None)))
            await rt.send(ev.InputAudioBufferAppend(audio=bytes(4800)))
            await rt.send(ev.InputAudioBufferAppend(event_id="over", audio=bytes(2)))
            error = await until(rt, ev.ErrorEvent)
            assert (error.error.code, error.error.event_id) == ("input_audio_buffer_full", "over")


async def test_idle_connections_are_closed() -> None:
    async with running(RealtimeServer(idle_timeout=0.3)) as url:
        async with connect(url, dialect="beta") as rt:
            with trio.fail_after(5):
                kinds = [type(event).__name__ async for event, _ in rt]
            assert kinds == ["SessionCreated"]
            assert rt.closed is not None and rt.closed.code == 1001


async def test_a_silent_handshake_times_out() -> None:
    server = RealtimeServer(handshake_timeout=0.2)
    async with running(server):
        stream = await trio.open_tcp_stream("127.0.0.1", server.port)  # type: ignore[arg-type]
        with trio.fail_after(5):
            assert await stream.receive_some(100) == b""  # closed without a word
        await stream.aclose()


async def test_graceful_shutdown_ends_every_open_response() -> None:
    backend = Slow()
    server = RealtimeServer(backend)
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve, "127.0.0.1", 0)
        async with connect(f"ws://127.0.0.1:{server.port}/v1/realtime", dialect="beta") as rt:
            await rt.send(TEXT_ONLY)
            await rt.send(beta.ResponseCreate())
            await until(rt, beta.ResponseTextDelta)
            server.shutdown()
            done = await until(rt, beta.ResponseDone)
            assert done.response.status == "failed"
            assert done.response.status_details.error.code == "server_shutdown"
            rest = [type(event).__name__ async for event, _ in rt]  # ends cleanly: close 1001
            assert rest == []
            assert rt.closed is not None and rt.closed.code == 1001
    assert server.connections == 0


async def test_the_echo_backend_calls_a_named_tool() -> None:
    tool = beta.Tool(name="lookup", parameters={"type": "object"})
    async with running(RealtimeServer(EchoBackend())) as url:
        async with connect(url, dialect="beta") as rt:
            await rt.send(
                beta.SessionUpdate(
                    session=beta.SessionConfig(
                        modalities=("text",), turn_detection=None, tools=(tool,)
                    )
                )
            )
            await rt.send(
                beta.ConversationItemCreate(
                    item=beta.MessageItem(
                        role="user", content=(ev.InputTextContent(text="please lookup x"),)
                    )
                )
            )
            await rt.send(beta.ResponseCreate())
            await until(rt, beta.ResponseDone)
            [(call_id, item_id)] = rt.state.pending_calls.items()
            await rt.send(
                beta.ConversationItemCreate(
                    item=ev.FunctionCallOutputItem(call_id=call_id, output="42")
                )
            )
            await rt.send(beta.ResponseCreate())
            done = await until(rt, beta.ResponseDone)
            [answer] = rt.state.response_items(done.response.id)
            assert answer.content[0].text.value == "The tool returned: 42"


async def test_a_cancelled_flush_loses_no_event() -> None:
    # A backend task is cancelled whenever its response is. The race: it wins the
    # write lock, is cancelled before it runs again (the reader handling
    # response.cancel), then takes the queued events - the reader's response.done
    # among them - and its send_all meets the cancellation. Those events must
    # still reach the client.
    import trio.testing

    from rtcore.server import ServerSession
    from rtcore.wire import ClientConnection, ServerConnection
    from rtcore_trio.server import _Connection

    ours, theirs = trio.testing.memory_stream_pair()
    conn = ServerConnection()
    conn.receive_data(
        ClientConnection("ws://127.0.0.1:1/v1/realtime", dialect="beta").data_to_send()
    )
    list(conn.events())
    conn.accept()
    session = ServerSession()  # session.created is queued
    connection = _Connection(RealtimeServer(), ours, conn, session, "test")
    scope = trio.CancelScope()

    async def backend_flush() -> None:
        with scope:
            await connection.flush()

    async with trio.open_nursery() as nursery:
        await connection.write_lock.acquire()
        nursery.start_soon(backend_flush)
        await trio.testing.wait_all_tasks_blocked()  # the backend waits for the lock
        connection.write_lock.release()  # it gets the lock ...
        scope.cancel()  # ... and is cancelled before it runs again
    with trio.fail_after(2):  # without the shield the frame never comes
        data = await theirs.receive_some(1 << 16)
    assert data[:1] == b"\x81"  # a whole text frame
    assert isinstance(ev.decode_server_event(data[4:]), ev.ga.SessionCreated)
    assert not session.has_output
