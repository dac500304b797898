"""The wire layer: handshakes, frames, close codes and limits, fed as bytes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from wirekit import URL, frame, pair, parse_frames, session_created

from rtcore import LocalProtocolError, RemoteProtocolError
from rtcore.events import beta
from rtcore.wire import (
    ClientConnection,
    ClientMessageError,
    ConnectionClosed,
    Credentials,
    HandshakeFailed,
    HandshakeRequest,
    PongReceived,
    Rejected,
    ServerConnection,
)
from rtcore.wire.framing import MAX_PINGS_AT_ONCE

# -- the opening handshake ------------------------------------------------------------


def request_of(client: ClientConnection) -> HandshakeRequest:
    server = ServerConnection()
    server.receive_data(client.data_to_send())
    [request] = list(server.events())
    assert isinstance(request, HandshakeRequest)
    return request


def test_the_client_handshake_carries_the_key_the_beta_header_and_the_model() -> None:
    client = ClientConnection(URL, dialect="beta", api_key="sk-abc", headers={"X-Trace": "1"})
    raw = client.data_to_send()
    head = raw.decode()
    assert head.startswith("GET /v1/realtime?model=gpt-4o-realtime-preview-2024-12-17 HTTP/1.1\r\n")
    assert "Host: 127.0.0.1:8765\r\n" in head
    assert "Authorization: Bearer sk-abc\r\n" in head
    assert "OpenAI-Beta: realtime=v1\r\n" in head
    assert "X-Trace: 1\r\n" in head
    request = request_of(ClientConnection(URL, dialect="beta", api_key="sk-abc"))
    assert request.path == "/v1/realtime"
    assert request.model == "gpt-4o-realtime-preview-2024-12-17"
    assert request.credentials == Credentials("bearer", "sk-abc")
    assert request.beta
    assert "sk-abc" not in repr(request.credentials)


def test_azure_style_and_browser_style_credentials() -> None:
    azure = request_of(ClientConnection(URL, dialect="beta", api_key="az-key", auth="api-key"))
    assert azure.credentials == Credentials("api-key", "az-key") and azure.beta
    assert azure.header("api-key") == "az-key"
    browser = request_of(
        ClientConnection(URL, dialect="beta", api_key="br-key", auth="subprotocol")
    )
    assert browser.credentials == Credentials("subprotocol", "br-key")
    assert browser.subprotocols == (
        "realtime",
        "openai-insecure-api-key.br-key",
        "openai-beta.realtime-v1",
    )
    assert browser.beta
    anonymous = request_of(ClientConnection(URL, dialect="ga"))
    assert anonymous.credentials is None and not anonymous.beta


def test_the_server_selects_the_realtime_subprotocol_for_browsers() -> None:
    client = ClientConnection(URL, dialect="beta", api_key="br-key", auth="subprotocol")
    server = ServerConnection()
    server.receive_data(client.data_to_send())
    list(server.events())
    response = server.accept()
    assert b"Sec-WebSocket-Protocol: realtime\r\n" in response
    client.receive_data(response)
    [connected] = list(client.events())
    assert connected.subprotocol == "realtime"  # type: ignore[union-attr]
    assert client.subprotocol == "realtime" and server.subprotocol == "realtime"


def test_ws_and_wss_urls_and_ports() -> None:
    secure = ClientConnection("wss://api.openai.com/v1/realtime?model=m", dialect="beta")
    assert (secure.secure, secure.host, secure.port, secure.target) == (
        True,
        "api.openai.com",
        443,
        "/v1/realtime?model=m",
    )
    assert b"Host: api.openai.com\r\n" in secure.data_to_send()
    plain = ClientConnection("ws://localhost/realtime", dialect="beta")
    assert (plain.secure, plain.port, plain.target) == (False, 80, "/realtime")
    with pytest.raises(ValueError):
        ClientConnection("http://example.com/")


@pytest.mark.parametrize(
    "status,body",
    [(401, b'{"error":{"message":"Incorrect API key provided"}}'), (403, b""), (404, b"not here")],
)
def test_a_rejected_handshake_is_an_event_with_status_and_body(status: int, body: bytes) -> None:
    client = ClientConnection(URL, dialect="beta", api_key="bad")
    server = ServerConnection()
    server.receive_data(client.data_to_send())
    list(server.events())
    response = server.reject(status, body)
    assert server.closed
    # Any split of the response gives the same answer.
    for i in range(0, len(response), 7):
        client.receive_data(response[i : i + 7])
    [rejected] = list(client.events())
    assert isinstance(rejected, Rejected)
    assert (rejected.status_code, rejected.body) == (status, body)
    assert f"HTTP {status}" in rejected.message
    assert client.closed
    with pytest.raises(LocalProtocolError):
        client.send(beta.ResponseCreate())


def test_a_malformed_handshake_answer_or_an_early_eof_is_a_handshake_failure() -> None:
    client = ClientConnection(URL, dialect="beta")
    client.receive_data(b"this is not HTTP\r\n\r\n")
    [failed] = list(client.events())
    assert isinstance(failed, HandshakeFailed)
    early = ClientConnection(URL, dialect="beta")
    early.receive_data(b"")
    [failed] = list(early.events())
    assert isinstance(failed, HandshakeFailed) and "closed" in failed.message
    cut = ClientConnection(URL, dialect="beta")
    cut.receive_data(b"HTTP/1.1 101 Switching")
    cut.receive_data(b"")
    [failed] = list(cut.events())
    assert isinstance(failed, HandshakeFailed)


def test_a_bad_accept_token_fails_the_handshake() -> None:
    client = ClientConnection(URL, dialect="beta")
    client.receive_data(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: bogus=\r\n\r\n"
    )
    [failed] = list(client.events())
    assert isinstance(failed, HandshakeFailed) and "accept" in failed.message.lower()


def _head(target: str, *lines: str) -> bytes:
    """A browser-free handshake request, written out byte for byte."""
    head = [
        f"GET {target} HTTP/1.1",
        "Host: 127.0.0.1:8765",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
        *lines,
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode()


def _requested(data: bytes, **options: Any) -> tuple[ServerConnection, HandshakeRequest]:
    server = ServerConnection(**options)
    server.receive_data(data)
    [request] = list(server.events())
    assert isinstance(request, HandshakeRequest)
    return server, request


@pytest.mark.parametrize(
    ("lines", "dialect"),
    [
        ((), "ga"),
        (("OpenAI-Beta: realtime=v1",), "beta"),
        (("openai-beta: realtime = v1",), "beta"),
        (("OpenAI-Beta: assistants=v2",), "ga"),
        (("Sec-WebSocket-Protocol: realtime, openai-beta.realtime-v1",), "beta"),
        (("Sec-WebSocket-Protocol: realtime, openai-insecure-api-key.k",), "ga"),
    ],
)
def test_the_handshake_decides_the_dialect(lines: tuple[str, ...], dialect: str) -> None:
    server, request = _requested(_head("/v1/realtime", *lines))
    assert request.dialect == dialect and server.dialect == dialect
    assert request.beta == (dialect == "beta")
    assert server.dialect_served


@pytest.mark.parametrize(
    ("target", "intent", "model"),
    [
        ("/v1/realtime", "conversation", None),
        ("/v1/realtime?model=gpt-realtime", "conversation", "gpt-realtime"),
        ("/v1/realtime?intent=transcription", "transcription", None),
        ("/v1/realtime?intent=quiet&model=m", "conversation", "m"),
        ("/openai/realtime?deployment=my-dep&api-version=x", "conversation", "my-dep"),
        ("/openai/realtime?deployment=d&model=m", "conversation", "m"),
    ],
)
def test_the_handshake_decides_the_intent_and_the_model(
    target: str, intent: str, model: str | None
) -> None:
    _, request = _requested(_head(target))
    assert request.intent == intent
    assert request.model_asked == model
    assert request.deployment == request.query.get("deployment")


def test_a_beta_handshake_on_a_ga_only_endpoint_is_upgraded_told_and_closed_4000() -> None:
    server, _ = _requested(_head("/v1/realtime", "OpenAI-Beta: realtime=v1"), dialects=("ga",))
    assert server.dialect == "beta" and not server.dialect_served
    with pytest.raises(LocalProtocolError):  # the decision is not the caller's to skip
        server.send(session_created())
    data = server.refuse_dialect("event_refused")
    head, _, frames = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 ")
    [(op1, _, text), (op2, _, close)] = parse_frames(frames)
    assert op1 == 1 and op2 == 8
    error = json.loads(text)
    assert error == {
        "type": "error",
        "event_id": "event_refused",
        "error": {
            "type": "invalid_request_error",
            "code": "beta_api_shape_disabled",
            "message": "The Realtime Beta API is no longer supported. "
            "Please use /v1/realtime for the GA API.",
            "param": None,
        },
    }
    assert int.from_bytes(close[:2], "big") == 4000
    assert close[2:] == b"invalid_request_error.beta_api_shape_disabled"


def test_a_ga_handshake_on_a_beta_only_endpoint_gets_400_before_the_upgrade() -> None:
    server, _ = _requested(_head("/v1/realtime"), dialects=("beta",))
    assert server.dialect == "ga" and not server.dialect_served
    data = server.refuse_dialect("unused")
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert json.loads(body)["error"]["code"] == "beta_header_required"
    assert server.closed and not server.accepted


def test_a_served_dialect_cannot_be_refused_and_dialects_are_checked() -> None:
    server, _ = _requested(_head("/v1/realtime"), dialects=("ga",))
    with pytest.raises(LocalProtocolError):
        server.refuse_dialect("e")
    assert server.accept().startswith(b"HTTP/1.1 101 ")
    for bad in ((), ("ga", "v2"), ("realtime",)):
        with pytest.raises(ValueError):
            ServerConnection(dialects=bad)
    assert ServerConnection(dialects=["beta", "ga", "ga"]).dialects == {"ga", "beta"}


def test_a_malformed_handshake_request_is_answered_with_400() -> None:
    server = ServerConnection()
    server.receive_data(b"POST /v1/realtime HTTP/1.1\r\nHost: x\r\n\r\n")
    [failed] = list(server.events())
    assert isinstance(failed, HandshakeFailed)
    assert server.data_to_send().startswith(b"HTTP/1.1 400 ")
    assert server.closed


def test_messages_pipelined_behind_the_handshake_are_kept() -> None:
    client = ClientConnection(URL, dialect="beta")
    server = ServerConnection()
    handshake = client.data_to_send()
    early = frame(1, b'{"type":"response.create","event_id":"early"}', mask=True)
    server.receive_data(handshake + early)
    [request] = list(server.events())
    assert isinstance(request, HandshakeRequest)
    server.accept()
    assert list(server.events()) == [beta.ResponseCreate(event_id="early")]


# -- messages -------------------------------------------------------------------------


def test_events_flow_both_ways_and_the_snapshot_follows() -> None:
    client, server, _ = pair()
    client.receive_data(server.send(session_created()))
    assert list(client.events()) == [session_created()]
    assert client.state.session is not None and client.state.session.id == "sess_1"
    data = client.send(beta.ResponseCreate())
    assert data[0] == 0x81 and data[1] & 0x80  # a masked, final text frame
    server.receive_data(data)
    [event] = list(server.events())
    assert isinstance(event, beta.ResponseCreate) and isinstance(event.event_id, str)


def test_fragmented_text_messages_are_joined() -> None:
    client, _, _ = pair()
    payload = json.dumps(
        {"type": "session.created", "event_id": "e", "session": {"id": "sess_x"}}
    ).encode()
    client.receive_data(
        frame(1, payload[:10], fin=False)
        + frame(0, payload[10:20], fin=False)
        + frame(0, payload[20:])
    )
    [event] = list(client.events())
    assert isinstance(event, beta.SessionCreated) and event.session.id == "sess_x"


def test_invalid_client_messages_are_reported_with_their_decode_error() -> None:
    _, server, _ = pair()
    server.receive_data(
        frame(1, b'{"type":"session.update","event_id":"u1","session":{"foo":1}}', mask=True)
    )
    [bad] = list(server.events())
    assert isinstance(bad, ClientMessageError)
    assert (bad.error.code, bad.error.path, bad.error.event_id) == (
        "unknown_parameter",
        "session.foo",
        "u1",
    )


def test_malformed_server_messages_become_protocol_errors() -> None:
    client, _, _ = pair()
    client.receive_data(frame(1, b"{broken"))
    [error] = list(client.events())
    assert isinstance(error, RemoteProtocolError)
    assert len(client.state.protocol_errors) == 1


def test_ping_is_answered_with_pong_and_pongs_are_reported() -> None:
    client, server, _ = pair()
    client.receive_data(frame(9, b"hello"))
    assert list(client.events()) == []
    pong = client.data_to_send()
    server.receive_data(pong)
    assert list(server.events()) == [PongReceived(payload=b"hello")]
    client.receive_data(server.ping(b"x"))
    list(client.events())
    server.receive_data(client.data_to_send())
    assert list(server.events()) == [PongReceived(payload=b"x")]


def test_one_read_of_more_pings_than_a_flood_allows_closes_1008_before_answering_them() -> None:
    _, server, _ = pair()
    server.receive_data(frame(9, b"p", mask=True) * MAX_PINGS_AT_ONCE)
    assert list(server.events()) == []
    answered = parse_frames(server.data_to_send())
    assert [opcode for opcode, _, _ in answered] == [0xA] * MAX_PINGS_AT_ONCE
    # The next read is another one: its pings are counted afresh.
    server.receive_data(frame(9, b"q", mask=True) * MAX_PINGS_AT_ONCE)
    assert list(server.events()) == []
    server.data_to_send()
    # One read of a flood: closed at the first ping past the bound, the rest left unread.
    flood = frame(9, b"f", mask=True) * (10 * MAX_PINGS_AT_ONCE)
    server.receive_data(flood + frame(1, b'{"type":"input_audio_buffer.clear"}', mask=True))
    [closed] = list(server.events())
    assert isinstance(closed, ConnectionClosed)
    assert (closed.code, closed.initiator) == (1008, "local")
    assert "ping flood" in closed.reason
    sent = parse_frames(server.data_to_send())
    assert [opcode for opcode, _, _ in sent] == [0xA] * MAX_PINGS_AT_ONCE + [0x8]
    assert server.pings_received == 3 * MAX_PINGS_AT_ONCE + 1


def test_a_client_is_not_held_to_the_servers_ping_bound() -> None:
    client, _, _ = pair()
    client.receive_data(frame(9, b"p") * (2 * MAX_PINGS_AT_ONCE))
    assert list(client.events()) == []
    assert len(parse_frames(client.data_to_send())) == 2 * MAX_PINGS_AT_ONCE


# -- closing ------------------------------------------------------------------------------


def test_a_close_from_the_server_is_answered_with_its_code() -> None:
    client, server, _ = pair()
    client.receive_data(server.close(1001, "going away"))
    assert list(client.events()) == [
        ConnectionClosed(code=1001, reason="going away", initiator="peer")
    ]
    reply = client.data_to_send()
    server.receive_data(reply)
    [closed] = list(server.events())
    assert closed == ConnectionClosed(code=1001, reason="going away", initiator="local")
    assert closed.clean and client.closed and server.closed


def test_a_close_from_the_client_completes() -> None:
    client, server, _ = pair()
    server.receive_data(client.close())
    assert list(server.events()) == [ConnectionClosed(code=1000, reason="", initiator="peer")]
    client.receive_data(server.data_to_send())
    assert list(client.events()) == [ConnectionClosed(code=1000, reason="", initiator="local")]
    assert client.close() == b""  # already closed: nothing more to send


def test_end_of_file_without_a_close_is_abnormal() -> None:
    client, server, _ = pair()
    client.receive_data(b"")
    [closed] = list(client.events())
    assert closed == ConnectionClosed(code=1006, reason="connection lost", initiator="abnormal")
    assert not closed.clean
    server.receive_data(None)
    assert [type(e) for e in server.events()] == [ConnectionClosed]


def closes_with(conn: ClientConnection | ServerConnection, data: bytes, code: int) -> None:
    conn.receive_data(data)
    events = list(conn.events())
    closed = events[-1]
    assert isinstance(closed, ConnectionClosed), events
    assert (closed.code, closed.initiator) == (code, "local")
    sent = conn.data_to_send()
    assert sent[0] == 0x88  # a close frame went out
    assert conn.closed
    # Nothing more is read after failing the connection.
    conn.receive_data(
        frame(1, b'{"type":"response.create"}', mask=isinstance(conn, ServerConnection))
    )
    assert list(conn.events()) == []


def test_binary_frames_close_with_1003() -> None:
    client, server, _ = pair()
    closes_with(client, frame(2, b"\x00\x01"), 1003)
    closes_with(server, frame(2, b"\x00\x01", mask=True), 1003)


def test_messages_beyond_the_size_limit_close_with_1009() -> None:
    client, server, _ = pair(max_message_size=1000)
    closes_with(client, frame(1, b'"' + b"a" * 2000 + b'"'), 1009)
    small = ServerConnection(max_message_size=100)
    helper = ClientConnection(URL, dialect="beta")
    small.receive_data(helper.data_to_send())
    list(small.events())
    small.accept()
    # The limit holds across fragments too.
    data = frame(1, b"x" * 60, fin=False, mask=True) + frame(0, b"y" * 60, mask=True)
    closes_with(small, data, 1009)


def test_invalid_utf8_closes_with_1007() -> None:
    client, _, _ = pair()
    closes_with(client, frame(1, b'{"type":"\xc3\x28"}'), 1007)


def test_protocol_violations_close_with_1002() -> None:
    client, server, _ = pair()
    closes_with(client, frame(1, b"{}", mask=True), 1002)  # servers never mask
    closes_with(server, frame(1, b"{}"), 1002)  # clients always mask


def test_sending_on_a_closed_connection_is_refused() -> None:
    client, server, _ = pair()
    client.receive_data(server.close())
    list(client.events())
    with pytest.raises(LocalProtocolError):
        client.send(beta.ResponseCreate())
    with pytest.raises(LocalProtocolError):
        server.send(session_created())


def test_the_server_connection_tells_the_size_of_the_last_message_it_decoded() -> None:
    _, server, _ = pair()
    small = b'{"type":"input_audio_buffer.clear"}'
    large = b'{"type":"session.update","session":{"instructions":"' + b"x" * 70000 + b'"}}'
    server.receive_data(frame(1, small, mask=True) + frame(1, large, mask=True))
    sizes = [server.message_size for _ in server.events()]
    assert sizes == [len(small), len(large)]
