"""``wss://``: the server over TLS (``ssl_context`` / ``rtcore serve --tls-cert``) and the clients that trust it.

The certificate is made at test time by ``trustme`` for 127.0.0.1 and
localhost; nothing leaves the loopback interface.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio
import trustme

from rtcore import events as ev
from rtcore.events import ga
from rtcore_trio import HandshakeError, RealtimeServer, connect
from rtcore_trio.cli import _tls


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@asynccontextmanager
async def tls_server(ca: trustme.CA) -> AsyncIterator[int]:
    server = RealtimeServer(ssl_context=server_context(ca))
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve, "127.0.0.1", 0)
        yield server.port
        server.shutdown()


async def text_turn(url: str, client_context: ssl.SSLContext) -> str:
    async with connect(url, api_key="k", ssl_context=client_context) as rt:
        await rt.send(
            ga.SessionUpdate(
                session=ga.RealtimeSessionConfig(
                    output_modalities=("text",),
                    audio=ga.AudioConfig(input=ga.AudioInput(turn_detection=None)),
                )
            )
        )
        item = ga.MessageItem(role="user", content=(ev.InputTextContent(text="over TLS"),))
        await rt.send(ga.ConversationItemCreate(item=item))
        await rt.send(ga.ResponseCreate())
        async for event, snapshot in rt:
            if isinstance(event, ga.ResponseDone):
                [answer] = snapshot.response_items(event.response.id)
                text = answer.content[0].text
                assert text is not None
                return text.value
    raise AssertionError("no response")


async def test_a_ga_conversation_over_wss(ca: trustme.CA) -> None:
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    with trio.fail_after(20):
        async with tls_server(ca) as port:
            url = f"wss://localhost:{port}/v1/realtime?model=gpt-realtime"
            assert await text_turn(url, client_context) == "over TLS"


async def test_a_client_that_does_not_trust_the_certificate_is_refused(ca: trustme.CA) -> None:
    with trio.fail_after(20):
        async with tls_server(ca) as port:
            url = f"wss://localhost:{port}/v1/realtime?model=gpt-realtime"
            with pytest.raises(HandshakeError):
                # The system trust store does not know the test CA.
                await text_turn(url, ssl.create_default_context())
            # The server goes on serving clients that do trust it.
            trusting = ssl.create_default_context()
            ca.configure_trust(trusting)
            assert await text_turn(url, trusting) == "over TLS"


async def test_plain_ws_against_a_tls_server_fails_cleanly(ca: trustme.CA) -> None:
    with trio.fail_after(20):
        async with tls_server(ca) as port:
            with pytest.raises(HandshakeError):
                async with connect(f"ws://127.0.0.1:{port}/v1/realtime", connect_timeout=3):
                    pass


def test_the_cli_loads_a_pem_certificate_and_key(ca: trustme.CA, tmp_path: Path) -> None:
    cert = ca.issue_cert("localhost")
    chain = tmp_path / "cert.pem"
    key = tmp_path / "key.pem"
    chain.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    key.write_bytes(cert.private_key_pem.bytes())
    context = _tls(str(chain), str(key))
    assert isinstance(context, ssl.SSLContext)
    assert _tls(None, None) is None
    with pytest.raises(ValueError):
        _tls(None, str(key))
    with pytest.raises(ssl.SSLError):
        _tls(str(key), str(key))  # a key is not a certificate


async def test_closing_a_connection_is_bounded_by_close_timeout() -> None:
    # Closing a TLS stream writes its close alert (and may first finish the TLS
    # handshake); a client that never reads would hold that write, and the connection
    # slot, forever. The server's close gives up at close_timeout.
    class StuckClose(trio.abc.AsyncResource):
        closed_forcefully = False

        async def aclose(self) -> None:
            try:
                await trio.sleep_forever()
            finally:
                self.closed_forcefully = True

    server = RealtimeServer(close_timeout=0.2)
    stream = StuckClose()
    with trio.fail_after(2):
        await server._close(stream)
    assert stream.closed_forcefully
