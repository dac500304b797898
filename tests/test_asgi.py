"""``rtcore_trio.asgi`` under a real hypercorn process (trio worker) on loopback.

The official SDK's GA client holds a text turn and a server-VAD audio turn
(every message validated against the SDK's models, as in test_openai_sdk_ga);
a plain WebSocket client checks the refusals (key, path, dialect), the choice
of dialect by header, the health check and a binary message. Under an asyncio
ASGI server the application fails at once with a message saying why: hypercorn's
asyncio worker and uvicorn exit at the lifespan startup, and without lifespan every
request is answered 500 with that message.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from serverkit import silence, tone
from test_openai_sdk_ga import (
    Events,
    audio_ms,
    check_audio_part_stream,
    check_response,
    configure,
    run_sdk,
    say,
    types,
)

from rtcore_trio.asgi import NEEDS_TRIO, create_app

pytest.importorskip("hypercorn")
websockets = pytest.importorskip("websockets")
from websockets.asyncio.client import connect  # noqa: E402
from websockets.exceptions import InvalidStatus  # noqa: E402

TESTS = Path(__file__).parent
ROOT = TESTS.parent
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(TESTS)])}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_get(port: int, path: str) -> tuple[int, bytes]:
    """A plain HTTP/1.1 GET: the status and the body."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def _wait_up(process: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            if http_get(port, "/healthz")[0] == 200:
                return
        except OSError:
            pass
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "hypercorn did not start"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def hypercorn() -> Iterator[int]:
    """``hypercorn --worker-class trio asgi_app:app`` on a free loopback port."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "hypercorn", "--worker-class", "trio"]
        + ["--bind", f"127.0.0.1:{port}", "asgi_app:app"],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_up(process, port)
        yield port
    finally:
        process.terminate()
        process.wait(10)


# -- the official SDK's GA client --------------------------------------------------------------


def test_a_text_turn_with_the_sdk(hypercorn: int) -> None:
    async def scenario(conn: Any) -> None:
        events = Events(conn)
        await configure(
            events, {"output_modalities": ["text"], "audio": {"input": {"turn_detection": None}}}
        )
        user = await say(events, "Hello ASGI")
        events.take()
        await conn.response.create()
        finished = await events.until("response.done")
        response = events.take()
        check_response(response, previous=user.item.id)
        assert finished.response.status == "completed"
        [item] = finished.response.output
        assert [(c.type, c.text) for c in item.content] == [("output_text", "Hello ASGI")]

    run_sdk(hypercorn, scenario)


def test_an_audio_turn_with_the_sdk(hypercorn: int) -> None:
    async def scenario(conn: Any) -> None:
        events = Events(conn)
        await configure(events, {"audio": {"input": {"transcription": {"model": "whisper-1"}}}})
        audio = silence(300) + tone(700) + silence(300)
        for offset in range(0, len(audio), 4800):
            await conn.input_audio_buffer.append(
                audio=base64.b64encode(audio[offset : offset + 4800]).decode()
            )
        done = await events.until("response.done")
        seen = [e for e in events.take() if not e.type.startswith("conversation.item.input_audio")]
        assert types(seen[:6]) == [
            "input_audio_buffer.speech_started",
            "input_audio_buffer.speech_stopped",
            "input_audio_buffer.committed",
            "conversation.item.added",
            "conversation.item.done",
            "response.created",
        ]
        response = seen[5:]
        check_response(response, previous=seen[2].item_id)
        check_audio_part_stream(response)
        assert done.response.status == "completed"
        assert audio_ms(response) > 0

    run_sdk(hypercorn, scenario)


# -- refusals and the dialect ----------------------------------------------------------------


async def _refused(url: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, additional_headers=headers):
            pass
    response = refused.value.response
    return response.status_code, json.loads(response.body)


def test_the_key_and_the_path_are_checked_before_the_upgrade(hypercorn: int) -> None:
    base = f"ws://127.0.0.1:{hypercorn}"

    async def main() -> None:
        status, body = await _refused(f"{base}/v1/realtime", {})
        assert (status, body["error"]["code"]) == (401, "missing_api_key")
        status, body = await _refused(
            f"{base}/v1/realtime", {"Authorization": "Bearer sk-wrong-1234"}
        )
        assert (status, body["error"]["code"]) == (401, "invalid_api_key")
        assert body["error"]["message"] == "Incorrect API key provided: …1234."
        status, body = await _refused(f"{base}/elsewhere", {"Authorization": "Bearer sk-local"})
        assert (status, body["error"]["code"]) == (404, "not_found")
        # Azure's api-key header is a key too.
        async with connect(
            f"{base}/openai/v1/realtime", additional_headers={"api-key": "sk-local"}
        ) as ws:
            assert json.loads(await ws.recv())["type"] == "session.created"

    asyncio.run(main())


def test_over_the_connection_limit_503_with_retry_after(hypercorn: int) -> None:
    url = f"ws://127.0.0.1:{hypercorn}/one/v1/realtime"
    key = {"Authorization": "Bearer sk-local"}

    async def main() -> None:
        async with connect(url, additional_headers=key) as ws:
            assert json.loads(await ws.recv())["type"] == "session.created"
            with pytest.raises(InvalidStatus) as refused:
                async with connect(url, additional_headers=key):
                    pass
            response = refused.value.response
            assert response.status_code == 503
            assert response.headers["Retry-After"] == "1"
            assert json.loads(response.body)["error"]["code"] == "server_busy"
        # Its place is free again once it has gone.
        deadline = time.monotonic() + 10
        while True:
            try:
                async with connect(url, additional_headers=key) as ws:
                    assert json.loads(await ws.recv())["type"] == "session.created"
                    return
            except InvalidStatus:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)

    asyncio.run(main())


def test_the_dialect_is_chosen_by_the_handshake(hypercorn: int) -> None:
    base = f"ws://127.0.0.1:{hypercorn}"
    key = {"Authorization": "Bearer sk-local"}
    beta = {**key, "OpenAI-Beta": "realtime=v1"}

    async def first(url: str, headers: dict[str, str]) -> dict[str, Any]:
        async with connect(url, additional_headers=headers) as ws:
            return dict(json.loads(await ws.recv()))

    async def main() -> None:
        ga = await first(f"{base}/v1/realtime?model=m", key)
        assert ga["type"] == "session.created" and ga["session"]["type"] == "realtime"
        old = await first(f"{base}/v1/realtime?model=m", beta)
        assert old["type"] == "session.created" and "modalities" in old["session"]
        assert "type" not in old["session"]
        # Azure's dated preview api-version asks for beta too, without a header.
        azure = await first(
            f"{base}/openai/realtime?api-version=2024-10-01-preview&deployment=d", key
        )
        assert azure["type"] == "session.created" and "modalities" in azure["session"]
        # A beta-only endpoint refuses GA before the upgrade.
        status, body = await _refused(f"{base}/betaonly/v1/realtime", key)
        assert (status, body["error"]["code"]) == (400, "beta_header_required")
        # A GA-only endpoint refuses beta as OpenAI does: one error, then close 4000.
        async with connect(f"{base}/gaonly/v1/realtime", additional_headers=beta) as ws:
            error = json.loads(await ws.recv())
            assert error["error"]["code"] == "beta_api_shape_disabled"
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4000

    asyncio.run(main())


def test_a_binary_message_closes_1003_and_health_is_200(hypercorn: int) -> None:
    assert http_get(hypercorn, "/healthz") == (200, b'{"status":"ok"}')
    assert http_get(hypercorn, "/elsewhere")[0] == 404

    async def main() -> None:
        url = f"ws://127.0.0.1:{hypercorn}/v1/realtime"
        async with connect(url, additional_headers={"Authorization": "Bearer sk-local"}) as ws:
            assert json.loads(await ws.recv())["type"] == "session.created"
            await ws.send(b"\x00\x01")
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1003

    asyncio.run(main())


# -- under asyncio: at once, and clearly ------------------------------------------------------


def test_hypercorns_asyncio_worker_fails_at_once_with_the_reason() -> None:
    port = _free_port()
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "hypercorn", "--bind", f"127.0.0.1:{port}", "rtcore_trio.asgi:app"],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert time.monotonic() - started < 20
    assert NEEDS_TRIO.format(library="asyncio") in result.stdout + result.stderr


def test_without_lifespan_asyncio_answers_500_with_the_reason() -> None:
    pytest.importorskip("uvicorn")
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--lifespan", "off", "--port", str(port)]
        + ["--host", "127.0.0.1", "rtcore_trio.asgi:app"],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    message = NEEDS_TRIO.format(library="asyncio")
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                status, body = http_get(port, "/healthz")
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert status == 500 and json.loads(body)["error"]["message"] == message

        async def main() -> None:
            with pytest.raises(InvalidStatus) as refused:
                async with connect(f"ws://127.0.0.1:{port}/v1/realtime"):
                    pass
            assert refused.value.response.status_code == 500

        asyncio.run(main())
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=10)
    assert message in out


def test_create_app_refuses_what_is_the_asgi_servers() -> None:
    for name in ("handshake_timeout", "frame_timeout", "ssl_context", "faults"):
        with pytest.raises(TypeError, match=name):
            create_app(**{name: None})
    with pytest.raises(ValueError, match="dialects"):
        create_app(dialects=("gamma",))


def test_a_target_that_does_not_parse_gets_400(hypercorn: int) -> None:
    with socket.create_connection(("127.0.0.1", hypercorn), timeout=5) as sock:
        sock.sendall(
            b"GET http://[::1/v1/realtime HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
        )
        answer = b""
        while b"}}" not in answer and (chunk := sock.recv(4096)):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400")
    assert b"bad handshake request" in answer
