"""Interop on loopback with independent WebSocket implementations.

Our client against a trio-websocket server and a ``websockets`` server; a
trio-websocket client and a ``websockets`` client against our
``ServerConnection``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import pytest
import trio
import trio_websocket
from wirekit import session_created

from rtcore import events as ev
from rtcore.events import beta
from rtcore.wire import ClientMessageError, ConnectionClosed, HandshakeRequest, ServerConnection
from rtcore_trio import ConnectionClosedError, attach, connect

websockets_sync = pytest.importorskip("websockets.sync.server")
websockets_client = pytest.importorskip("websockets.sync.client")

SESSION = ev.encode_event(session_created()).decode()


def error_for(message: str) -> str:
    event_id = json.loads(message).get("event_id")
    return json.dumps(
        {
            "type": "error",
            "event_id": "event_e1",
            "error": {
                "type": "invalid_request_error",
                "code": "x",
                "message": "echo",
                "param": None,
                "event_id": event_id,
            },
        }
    )


# -- our client against other servers -------------------------------------------------------


async def test_our_client_against_a_trio_websocket_server() -> None:
    seen: dict[str, Any] = {}

    async def handler(request: trio_websocket.WebSocketRequest) -> None:
        seen["headers"] = dict((k.decode().lower(), v.decode()) for k, v in request.headers)
        seen["path"] = request.path
        ws = await request.accept()
        await ws.send_message(SESSION)
        message = await ws.get_message()
        await ws.send_message(error_for(str(message)))
        await ws.aclose()

    async with trio.open_nursery() as nursery:
        server = await nursery.start(trio_websocket.serve_websocket, handler, "127.0.0.1", 0, None)
        url = f"ws://127.0.0.1:{server.port}/v1/realtime?model=m"
        async with connect(url, dialect="beta", api_key="sk-interop") as rt:
            await rt.send(beta.ResponseCreate(event_id="c1"))
            kinds = [type(event).__name__ async for event, _ in rt]
            assert kinds == ["SessionCreated", "ErrorEvent"]
            assert rt.state.errors[0].client_event == beta.ResponseCreate(event_id="c1")
        nursery.cancel_scope.cancel()
    assert seen["headers"]["authorization"] == "Bearer sk-interop"
    assert seen["headers"]["openai-beta"] == "realtime=v1"
    assert seen["path"] == "/v1/realtime?model=m"


async def test_our_client_against_a_websockets_server() -> None:
    def handler(ws: Any) -> None:
        assert ws.request.headers["Authorization"] == "Bearer sk-ws"
        ws.send(SESSION)
        ws.send(error_for(ws.recv()))
        ws.close()

    server = websockets_sync.serve(handler, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.socket.getsockname()[1]
        async with connect(
            f"ws://127.0.0.1:{port}/v1/realtime", dialect="beta", api_key="sk-ws"
        ) as rt:
            # A commit of an empty buffer: refused by the server only (its buffer, its limit).
            await rt.send(ev.InputAudioBufferCommit(event_id="c2"))
            kinds = [type(event).__name__ async for event, _ in rt]
            assert kinds == ["SessionCreated", "ErrorEvent"]
            assert rt.closed is not None and rt.closed.clean
    finally:
        server.shutdown()
        thread.join(5)


async def test_attach_drives_an_existing_trio_websocket_connection() -> None:
    async def handler(request: trio_websocket.WebSocketRequest) -> None:
        ws = await request.accept()
        await ws.send_message(SESSION)
        await ws.send_message(error_for(str(await ws.get_message())))
        await ws.aclose()

    async with trio.open_nursery() as nursery:
        server = await nursery.start(trio_websocket.serve_websocket, handler, "127.0.0.1", 0, None)
        async with trio_websocket.open_websocket(
            "127.0.0.1", server.port, "/v1/realtime", use_ssl=False
        ) as ws:
            async with attach(ws, dialect="beta") as rt:
                await rt.send(beta.ResponseCreate(event_id="c3"))
                kinds = [type(event).__name__ async for event, _ in rt]
                assert kinds == ["SessionCreated", "ErrorEvent"]
                assert rt.state.session is not None
        nursery.cancel_scope.cancel()


async def _silent_server(stream: trio.SocketStream) -> None:
    """Accepts the handshake, sends session.created, then reads and answers nothing."""
    server = ServerConnection()
    async with stream:
        while server.request is None:
            server.receive_data(await stream.receive_some(65536))
            list(server.events())
        await stream.send_all(server.accept() + server.send(session_created()))
        while await stream.receive_some(65536):
            pass


async def test_attach_keepalive_pings_and_declares_a_silent_peer_dead() -> None:
    async def handler(request: trio_websocket.WebSocketRequest) -> None:
        ws = await request.accept()
        await ws.send_message(SESSION)
        await trio.sleep_forever()

    async with trio.open_nursery() as nursery:
        live = await nursery.start(trio_websocket.serve_websocket, handler, "127.0.0.1", 0, None)
        silent = (await nursery.start(trio.serve_tcp, _silent_server, 0))[0]
        async with trio_websocket.open_websocket(
            "127.0.0.1", live.port, "/v1/realtime", use_ssl=False
        ) as ws:
            async with attach(ws, dialect="beta") as rt:
                assert 0 <= await rt.ping(5) < 5
        with trio.fail_after(10):
            async with trio_websocket.open_websocket(
                "127.0.0.1", silent.socket.getsockname()[1], "/v1/realtime", use_ssl=False
            ) as ws:
                with pytest.raises(ConnectionClosedError) as info:
                    async with attach(
                        ws, ping_interval=0.2, ping_timeout=0.2, write_timeout=0.5
                    ) as rt:
                        async for _ in rt:
                            pass
        assert (info.value.code, info.value.reason) == (1006, "no pong within 0.2 s")
        nursery.cancel_scope.cancel()


# -- other clients against our ServerConnection -------------------------------------------------


async def _serve_connection(stream: trio.SocketStream, log: list[Any]) -> None:
    """A trivial handler over ServerConnection: session.created, then one error per event."""
    server = ServerConnection()
    async with stream:
        while True:
            data = await stream.receive_some(65536)
            server.receive_data(data)
            for event in server.events():
                log.append(event)
                if isinstance(event, HandshakeRequest):
                    await stream.send_all(server.accept())
                    await stream.send_all(server.send(session_created()))
                elif isinstance(event, ev.ClientEvent):
                    reply = json.loads(error_for(ev.encode_event(event).decode()))
                    await stream.send_all(
                        server.send(ev.decode_server_event(json.dumps(reply), dialect="beta"))
                    )  # type: ignore[arg-type]
                elif isinstance(event, ClientMessageError):
                    await stream.send_all(server.close(1008, event.error.code))
            await stream.send_all(server.data_to_send())
            if server.closed or not data:
                return


@asynccontextmanager
async def our_server() -> AsyncIterator[tuple[int, list[Any]]]:
    log: list[Any] = []
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(
            partial(trio.serve_tcp, lambda s: _serve_connection(s, log), 0, host="127.0.0.1")
        )
        yield listeners[0].socket.getsockname()[1], log
        nursery.cancel_scope.cancel()


async def test_a_trio_websocket_client_against_our_server() -> None:
    async with our_server() as (port, log):
        async with trio_websocket.open_websocket(
            "127.0.0.1",
            port,
            "/v1/realtime?model=m",
            use_ssl=False,
            subprotocols=["realtime", "openai-insecure-api-key.sk-br", "openai-beta.realtime-v1"],
        ) as ws:
            assert ws.subprotocol == "realtime"
            assert json.loads(await ws.get_message())["type"] == "session.created"
            await ws.send_message('{"type":"response.create","event_id":"t1"}')
            reply = json.loads(await ws.get_message())
            assert reply["error"]["event_id"] == "t1"
        request = log[0]
        assert isinstance(request, HandshakeRequest)
        assert request.credentials is not None and request.credentials.key == "sk-br"
        assert request.beta and request.model == "m"
        assert log[1] == beta.ResponseCreate(event_id="t1")
        assert isinstance(log[-1], ConnectionClosed) and log[-1].initiator == "peer"


async def test_a_websockets_client_against_our_server() -> None:
    async with our_server() as (port, log):

        def client() -> list[str]:
            with websockets_client.connect(
                f"ws://127.0.0.1:{port}/v1/realtime?model=m",
                additional_headers={"Authorization": "Bearer sk-wsc", "OpenAI-Beta": "realtime=v1"},
            ) as ws:
                got = [str(ws.recv())]
                ws.send('{"type":"input_audio_buffer.clear","event_id":"w1"}')
                got.append(str(ws.recv()))
                ws.send(b"\x00\x01")  # binary: our server closes with 1003
                try:
                    ws.recv()
                except Exception as exc:  # noqa: BLE001 - the close arrives as an exception
                    got.append(
                        type(exc).__name__
                        + ":"
                        + str(getattr(getattr(exc, "rcvd", None), "code", ""))
                    )
                return got

        got = await trio.to_thread.run_sync(client)
        assert json.loads(got[0])["type"] == "session.created"
        assert json.loads(got[1])["error"]["event_id"] == "w1"
        assert got[2].endswith(":1003")
        assert log[0].credentials.key == "sk-wsc"
        assert (
            ConnectionClosed(
                code=1003,
                reason="binary frames are not part of the Realtime protocol",
                initiator="local",
            )
            in log
        )
