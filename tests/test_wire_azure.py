"""Azure's handshake forms (docs/protocol/connection.md#azure), decided by the wire layer.

Azure serves its preview protocol - the beta dialect - at
``/openai/realtime?api-version=<date>-preview&deployment=D`` with an
``api-key`` header and no ``OpenAI-Beta`` header, and GA at
``/openai/v1/realtime?model=D``. ``ServerConnection`` decides the dialect from
the bytes of the handshake (tested here by feeding bytes); ``rtcore serve``
with its default options answers both forms (tested over real sockets with the
``websockets`` client and the official ``openai`` SDK's Azure client).
"""

from __future__ import annotations

import asyncio
import json
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
import trio
from serverkit import running

from rtcore.wire import HandshakeRequest, ServerConnection, asks_for_beta
from rtcore_trio import RealtimeServer

websockets = pytest.importorskip("websockets")

PREVIEW = "/openai/realtime?api-version=2024-10-01-preview&deployment=gpt-4o-realtime-preview"
GA = "/openai/v1/realtime?model=gpt-realtime"
KEY = "azure-key-0123"


def head(target: str, *headers: str) -> bytes:
    lines = [
        f"GET {target} HTTP/1.1",
        "Host: example.openai.azure.com",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
        *headers,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def request_of(data: bytes) -> HandshakeRequest:
    conn = ServerConnection()
    conn.receive_data(data)
    [request] = list(conn.events())
    assert isinstance(request, HandshakeRequest)
    assert conn.dialect == request.dialect
    return request


# -- the decision, from bytes --------------------------------------------------------------------


def test_the_azure_preview_form_is_beta_without_a_beta_header() -> None:
    request = request_of(head(PREVIEW, f"api-key: {KEY}"))
    assert request.dialect == "beta"
    assert (request.path, request.api_version) == ("/openai/realtime", "2024-10-01-preview")
    assert request.model_asked == "gpt-4o-realtime-preview"
    assert request.credentials is not None
    assert (request.credentials.scheme, request.credentials.key) == ("api-key", KEY)


def test_the_azure_ga_form_is_ga() -> None:
    request = request_of(head(GA, f"api-key: {KEY}"))
    assert (request.dialect, request.path, request.model_asked) == (
        "ga",
        "/openai/v1/realtime",
        "gpt-realtime",
    )


@pytest.mark.parametrize(
    "version,dialect",
    [
        ("2024-10-01-preview", "beta"),
        ("2025-04-01-preview", "beta"),
        ("2025-08-28", "ga"),  # Azure's GA api-version: the GA protocol
        ("preview", "ga"),  # the v1 API's feature flag, not a dated preview
        ("2024-10-01-preview-ish", "ga"),
        ("", "ga"),
    ],
)
def test_only_a_dated_preview_api_version_asks_for_beta(version: str, dialect: str) -> None:
    target = f"/openai/realtime?api-version={version}&deployment=d"
    assert request_of(head(target)).dialect == dialect
    assert asks_for_beta({"api-version": version}, (), ()) is (dialect == "beta")


def test_the_beta_header_and_subprotocol_still_decide_on_any_path() -> None:
    assert request_of(head(GA, "OpenAI-Beta: realtime=v1")).dialect == "beta"
    protocols = "Sec-WebSocket-Protocol: realtime, openai-beta.realtime-v1"
    assert request_of(head("/openai/realtime?deployment=d", protocols)).dialect == "beta"
    assert request_of(head("/openai/realtime?deployment=d")).dialect == "ga"


def test_a_bearer_token_wins_over_the_api_key_header() -> None:
    request = request_of(head(PREVIEW, "Authorization: Bearer entra-token", f"api-key: {KEY}"))
    assert request.credentials is not None and request.credentials.scheme == "bearer"


def test_a_ga_only_endpoint_refuses_the_azure_preview_form_as_beta() -> None:
    conn = ServerConnection(dialects=("ga",))
    conn.receive_data(head(PREVIEW, f"api-key: {KEY}"))
    list(conn.events())
    assert not conn.dialect_served
    refusal = conn.refuse_dialect("event_1")
    assert refusal.startswith(b"HTTP/1.1 101 ") and b"beta_api_shape_disabled" in refusal


# -- rtcore serve, default options, over real sockets --------------------------------------------


def serving(**options: Any) -> AbstractAsyncContextManager[RealtimeServer]:
    return running(api_keys=[KEY], **options)


def first_events(url: str, headers: dict[str, str], update: dict[str, Any]) -> list[Any]:
    """Connect with ``websockets``, send ``update``, return the first three server events."""
    from websockets.sync.client import connect

    with connect(url, additional_headers=headers, open_timeout=10) as ws:
        ws.send(json.dumps(update))
        return [json.loads(ws.recv(timeout=10)) for _ in range(2)]


BETA_UPDATE = {"type": "session.update", "session": {"modalities": ["text"], "voice": "alloy"}}
GA_UPDATE = {
    "type": "session.update",
    "session": {"type": "realtime", "output_modalities": ["text"]},
}


async def test_serve_answers_the_azure_preview_handshake_in_beta() -> None:
    async with serving() as server:
        url = f"ws://127.0.0.1:{server.port}{PREVIEW}"
        created, updated = await trio.to_thread.run_sync(
            first_events, url, {"api-key": KEY}, BETA_UPDATE
        )
    assert created["type"] == "session.created"
    assert created["session"]["model"] == "gpt-4o-realtime-preview"
    assert "modalities" in created["session"] and "type" not in created["session"]
    assert updated["type"] == "session.updated", updated
    assert updated["session"]["modalities"] == ["text"]


async def test_serve_answers_the_azure_ga_handshake_in_ga() -> None:
    async with serving() as server:
        url = f"ws://127.0.0.1:{server.port}{GA}"
        created, updated = await trio.to_thread.run_sync(
            first_events, url, {"api-key": KEY}, GA_UPDATE
        )
    assert created["type"] == "session.created"
    assert (created["session"]["type"], created["session"]["model"]) == ("realtime", "gpt-realtime")
    assert updated["type"] == "session.updated", updated
    assert updated["session"]["output_modalities"] == ["text"]


async def test_the_api_key_header_is_checked_like_a_bearer_token() -> None:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    def status(url: str, headers: dict[str, str]) -> int:
        try:
            with connect(url, additional_headers=headers, open_timeout=10):
                return 101
        except InvalidStatus as refused:
            return refused.response.status_code

    async with serving() as server:
        base = f"ws://127.0.0.1:{server.port}"
        for path, headers, expected in [
            (PREVIEW, {"api-key": KEY}, 101),
            (PREVIEW, {"api-key": KEY + "x"}, 401),
            (PREVIEW, {}, 401),
            (GA, {"api-key": KEY}, 101),
            (GA, {"Authorization": f"Bearer {KEY}"}, 101),
            ("/v1/realtime?model=gpt-realtime", {"api-key": KEY}, 101),
            ("/openai/v2/realtime?model=gpt-realtime", {"api-key": KEY}, 404),
        ]:
            got = await trio.to_thread.run_sync(status, base + path, headers)
            assert got == expected, (path, headers)


async def test_a_chosen_path_replaces_the_defaults_and_several_can_be_served() -> None:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    def status(url: str) -> int:
        try:
            with connect(url, additional_headers={"api-key": KEY}, open_timeout=10):
                return 101
        except InvalidStatus as refused:
            return refused.response.status_code

    async with serving(path=["/rt", "/openai/realtime"]) as server:
        base = f"ws://127.0.0.1:{server.port}"
        assert server.paths == ("/rt", "/openai/realtime")
        for path, expected in [("/rt", 101), (PREVIEW, 101), (GA, 404), ("/v1/realtime", 404)]:
            assert await trio.to_thread.run_sync(status, base + path) == expected, path


# -- the official SDK's Azure client ---------------------------------------------------------------


def azure_sdk_session(port: int, api_version: str) -> tuple[str, dict[str, Any]]:
    """``openai.AzureOpenAI(...).realtime.connect``: the URL it chose, and its session.created."""
    openai = pytest.importorskip("openai")

    client = openai.AzureOpenAI(
        azure_endpoint=f"http://127.0.0.1:{port}",
        api_key=KEY,
        api_version=api_version,
        websocket_base_url=f"ws://127.0.0.1:{port}/openai",
    )
    with client.realtime.connect(model="gpt-4o-realtime-preview") as conn:
        created = json.loads(conn.recv_bytes())
        url = str(conn._connection.request.path)  # type: ignore[attr-defined]
    return url, created


async def test_the_openai_sdks_azure_client_gets_its_dialect_by_api_version() -> None:
    async with serving() as server:
        preview_url, preview = await trio.to_thread.run_sync(
            azure_sdk_session, server.port, "2024-10-01-preview"
        )
        ga_url, ga = await trio.to_thread.run_sync(azure_sdk_session, server.port, "2025-08-28")
    assert preview_url.startswith("/openai/realtime?") and "deployment=" in preview_url
    assert preview["type"] == "session.created" and "modalities" in preview["session"]
    assert ga_url.startswith("/openai/realtime?") and "api-version=2025-08-28" in ga_url
    assert ga["type"] == "session.created" and ga["session"]["type"] == "realtime"


def openai_sdk_on_azure_v1(port: int) -> dict[str, Any]:
    """Azure's GA form as its docs show it: the plain ``OpenAI`` client on ``/openai/v1``."""
    openai = pytest.importorskip("openai")

    async def main() -> dict[str, Any]:
        client = openai.AsyncOpenAI(
            api_key=KEY, websocket_base_url=f"ws://127.0.0.1:{port}/openai/v1"
        )
        async with client.realtime.connect(model="gpt-realtime") as conn:
            await conn.session.update(session={"type": "realtime", "output_modalities": ["text"]})
            created = json.loads(await asyncio.wait_for(conn.recv_bytes(), 10))
            updated = json.loads(await asyncio.wait_for(conn.recv_bytes(), 10))
        assert updated["type"] == "session.updated", updated
        return dict(created)

    return asyncio.run(main())


async def test_the_openai_client_reaches_the_azure_ga_path() -> None:
    async with serving() as server:
        created = await trio.to_thread.run_sync(openai_sdk_on_azure_v1, server.port)
    assert created["session"]["type"] == "realtime"
    assert created["session"]["model"] == "gpt-realtime"


def test_the_path_option_replaces_the_defaults_and_repeats() -> None:
    import argparse

    from rtcore_trio.serve_options import add_serve_limits, server_options
    from rtcore_trio.server import DEFAULT_PATHS

    parser = argparse.ArgumentParser()
    add_serve_limits(parser)
    assert server_options(parser.parse_args([]))["path"] == DEFAULT_PATHS
    assert DEFAULT_PATHS == ("/v1/realtime", "/openai/realtime", "/openai/v1/realtime")
    assert server_options(parser.parse_args(["--path", "/rt"]))["path"] == ("/rt",)
    chosen = server_options(parser.parse_args(["--path", "/a", "--path", "/openai/realtime"]))
    assert chosen["path"] == ("/a", "/openai/realtime")
