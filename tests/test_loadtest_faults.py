"""An overloaded or failing server, as ``rtcore loadtest`` reports it: counted, never a crash.

The faults ``rtcore serve --fault SPEC`` injects (``refuse=503``,
``close=1011,after=N``, ``drop,after=N``, ``latency=50ms``) and failing
servers of the tests' own: slow answers show as latency; refused handshakes
by HTTP status; ``error`` events and failed responses by code; the server's
close codes (1011, 1001) and dropped connections; handshakes nobody answers
and ports nobody listens on. Each run returns its result, with the sessions
the server kept measured as usual.
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio
from test_loadtest import _load, serve_process

from rtcore.wire import HandshakeRequest, ServerConnection
from rtcore_trio.cli import main
from rtcore_trio.faults import parse_fault
from rtcore_trio.loadtest import LoadOptions, run_load
from rtcore_trio.loadtest_scenario import load_scenario


class _Slow:
    """A backend that thinks ``delay`` seconds before each answer: a server under load."""

    def __init__(self, backend: Any, delay: float) -> None:
        self.backend, self.delay = backend, delay

    async def respond(self, request: Any) -> AsyncIterator[Any]:
        await trio.sleep(self.delay)
        async for chunk in self.backend.respond(request):
            yield chunk


class _Broken:
    """A backend that fails every answer: the server fails the response (``backend_error``)."""

    def __init__(self, backend: Any) -> None:
        pass

    async def respond(self, request: Any) -> AsyncIterator[Any]:
        raise RuntimeError("the model is down")
        yield  # an async generator, as backends are


def test_a_slow_server_shows_as_latency() -> None:
    fast, _ = _load("text", duration=2.0)
    slow, _ = _load("text", duration=2.0, wrap=lambda backend: _Slow(backend, 0.3))
    assert fast["errors"] == {} and slow["errors"] == {}
    assert fast["latency_ms"]["first_delta"]["p50"] < 100
    assert 300 <= slow["latency_ms"]["first_delta"]["p50"] < 1000
    assert slow["latency_ms"]["first_delta"]["count"] < fast["latency_ms"]["first_delta"]["count"]
    # the generator kept its schedule: the latency is the server's
    assert slow["generator"]["bound_intervals"] == []


# -- the faults `rtcore serve --fault SPEC` injects ------------------------------------------------


def test_fault_refuse_503() -> None:
    result, reports = _load("text", sessions=3, duration=1.0, faults=[parse_fault("refuse=503")])
    assert result["rejected"] == {"503": 3} and result["errors"] == {"http_503": 3}
    assert result["latency_ms"]["handshake"] is None and result["close_codes"] == {}
    assert all(r["sessions_up"] == 0 for r in reports)


def test_fault_close_1011_after_n_events() -> None:
    result, _ = _load("mixed", duration=2.0, faults=[parse_fault("close=1011,after=8")])
    assert result["close_codes"] == {"1011": 2} and result["dropped"] == 0
    assert result["errors"] == {"close_1011": 2}
    assert [(s["close_code"], s["events"]) for s in result["sessions"]] == [(1011, 8)] * 2
    assert result["latency_ms"]["handshake"]["count"] == 2
    assert result["intervals"][-1]["sessions"] == 0  # none up at the end


def test_fault_drop_is_a_dropped_connection() -> None:
    result, _ = _load("text", duration=2.0, faults=[parse_fault("drop,after=6")])
    assert result["dropped"] == 2 and result["close_codes"] == {"1006": 2}
    assert result["errors"] == {"close_1006": 2}


def test_fault_latency_shows_as_latency() -> None:
    result, _ = _load("text", duration=2.5, faults=[parse_fault("latency=50ms")])
    assert result["errors"] == {} and result["close_codes"] == {}
    lat = result["latency_ms"]
    # each server event is held 50 ms, one after the other: the handshake's answer is not
    # an event, but an answer's first delta comes after several
    assert lat["first_delta"]["p50"] >= 150 and lat["response"]["p50"] >= 150


def test_fault_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.json"
    with serve_process("--fault", "close=1011,after=5") as url:
        argv = ["loadtest", url, "--sessions", "3", "--duration", "1.5", "--scenario", "text"]
        assert main([*argv, "--out", str(out)]) == 0  # a failing server is no failure of ours
    result = json.loads(out.read_text())
    assert result["close_codes"] == {"1011": 3} and result["errors"] == {"close_1011": 3}
    printed = capsys.readouterr().out
    assert "close_1011 3" in printed and "1011 3" in printed


def test_failed_responses_are_counted_by_code() -> None:
    result, _ = _load("text", duration=1.5, wrap=_Broken)
    failed = result["errors"]["response_failed_backend_error"]
    assert failed >= 2 and failed == result["events"]["response.done"]
    assert result["close_codes"] == {}  # the sessions stay up; only their answers fail


def test_refused_connections_are_counted() -> None:
    result, _ = _load("text", sessions=3, duration=1.5, max_connections=1)
    assert result["rejected"] == {"503": 2}
    assert result["errors"] == {"http_503": 2}
    assert result["latency_ms"]["handshake"]["count"] == 1
    assert result["latency_ms"]["first_delta"]["count"] >= 2  # the one admitted goes on


def test_expired_sessions_are_counted() -> None:
    result, _ = _load("text", duration=2.5, max_session_seconds=1.0)
    assert result["errors"] == {"session_expired": 2}  # closing with 1001 is no error
    assert result["close_codes"] == {"1001": 2}
    assert result["latency_ms"]["first_delta"]["count"] >= 2  # answers before the end


_OVERLOADED = json.dumps(
    {
        "type": "error",
        "event_id": "event_1",
        "error": {"type": "server_error", "code": "server_overloaded", "message": "Try later."},
    }
).encode()


async def _closing_server(
    connections: list[str], delay: float = 0.0, task_status: Any = trio.TASK_STATUS_IGNORED
) -> None:
    """A server that accepts (after ``delay``), then meets the third client event with an error
    and close 1011."""

    async def handle(stream: trio.SocketStream) -> None:
        connections.append(str(stream.socket.getpeername()))
        conn, heard = ServerConnection(), 0
        async with stream:
            while not conn.closed:
                data = await stream.receive_some(65536)
                conn.receive_data(data)
                out = b""
                for event in conn.events():
                    if isinstance(event, HandshakeRequest):
                        await trio.sleep(delay)
                        out += conn.accept()
                    else:
                        heard += 1
                        if heard == 3:  # session.update, the user's message, response.create
                            out += conn.send_message(_OVERLOADED) + conn.close(1011, "overloaded")
                await stream.send_all(out + conn.data_to_send())
                if not data:
                    return

    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    task_status.started(listeners[0].socket.getsockname()[1])
    await trio.serve_listeners(handle, listeners)


def _run(url: str, sessions: int = 2, duration: float = 1.0, **options: Any) -> dict[str, Any]:
    opts = LoadOptions(
        url=url, sessions=sessions, duration=duration, scenario=load_scenario("text"), **options
    )
    return dict(trio.run(run_load, opts))


def test_a_server_that_closes_1011_is_counted() -> None:
    connections: list[str] = []

    async def main() -> dict[str, Any]:
        async with trio.open_nursery() as nursery:
            port = await nursery.start(_closing_server, connections)
            options = LoadOptions(
                url=f"ws://127.0.0.1:{port}/v1/realtime",
                sessions=2,
                duration=1.5,
                scenario=load_scenario("text"),
            )
            result = await run_load(options)
            nursery.cancel_scope.cancel()
        return result

    result = trio.run(main)
    assert len(connections) == 2  # one per session: closed sessions are not opened again
    assert result["errors"] == {"server_overloaded": 2, "close_1011": 2}
    assert result["close_codes"] == {"1011": 2} and result["dropped"] == 0
    assert [s["close_code"] for s in result["sessions"]] == [1011, 1011]
    assert result["latency_ms"]["handshake"]["count"] == 2
    assert result["latency_ms"]["first_delta"] is None  # no answer came


def test_a_handshake_answered_too_late_is_not_counted() -> None:
    async def main() -> dict[str, Any]:
        async with trio.open_nursery() as nursery:
            port = await nursery.start(_closing_server, [], 0.6)
            options = LoadOptions(
                url=f"ws://127.0.0.1:{port}/v1/realtime",
                sessions=2,
                duration=1.5,
                ramp=1.0,  # the first answer comes while the second session still waits
                scenario=load_scenario("text"),
                turn_timeout=0.3,
            )
            result = await run_load(options)
            nursery.cancel_scope.cancel()
        return result

    result = trio.run(main)
    assert result["errors"] == {"timeout_handshake": 2}
    assert result["latency_ms"]["handshake"] is None and result["events"] == {}
    assert all(i["sessions"] == 0 for i in result["intervals"])


def test_nobody_listening() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        result = _run(f"ws://127.0.0.1:{port}/v1/realtime")
    assert result["failed"] == {"connect_failed": 2}
    assert result["errors"] == {"connect_failed": 2}


def test_a_handshake_nobody_answers_times_out() -> None:
    with socket.socket() as listener:  # the kernel accepts; nobody reads: a server too busy
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        result = _run(f"ws://127.0.0.1:{port}/", duration=1.5, turn_timeout=0.5)
    assert result["errors"] == {"timeout_handshake": 2}
    assert result["latency_ms"]["handshake"] is None


def test_a_server_that_hangs_up_in_the_handshake() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        async def run() -> dict[str, Any]:
            async def hang_up() -> None:
                for _ in range(2):
                    conn, _ = await trio.to_thread.run_sync(listener.accept)
                    conn.close()

            async with trio.open_nursery() as nursery:
                nursery.start_soon(hang_up)
                options = LoadOptions(
                    url=f"ws://127.0.0.1:{port}/",
                    sessions=2,
                    duration=1.0,
                    scenario=load_scenario("text"),
                )
                return await run_load(options)

        result = trio.run(run)
    assert result["failed"] == {"handshake_failed": 2}
