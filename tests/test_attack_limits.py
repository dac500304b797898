"""Attacks on the server's bounds, over real loopback sockets.

Each test runs a real ``RealtimeServer`` and, where the attack targets a
running server, a healthy session beside the attacker that completes its
text turns before, during and after. What each attack must get: clients over
``max_connections`` get 503 before any session starts; idle connections take
no scheduler steps (timeouts are deadlines, not polling); a frame, a
fragmented message or a handshake trickled a byte at a time is cut off by its
deadline; the session still expires at its maximum length; only the exact
path is served; API keys are compared in constant time; a flood of bad
events costs a bounded number of log lines.
"""

from __future__ import annotations

import hmac
import logging
import re
import ssl
from collections import Counter
from typing import Any

import pytest
import trio
import trio.testing
import trustme
from attackkit import RawClient, healthy, running, url_of, wait_for
from wirekit import frame

from rtcore import events as ev
from rtcore.server import ServerSession
from rtcore_trio import HandshakeError, RealtimeServer, connect
from rtcore_trio.connection import EVENTS_PER_STEP
from rtcore_trio.throttle import ThrottledLog

# -- the connection limit -------------------------------------------------------------------------


async def test_clients_over_the_limit_get_503_before_any_session() -> None:
    server = RealtimeServer(max_connections=3)
    async with running(server), healthy(server) as other:
        holders = [await RawClient.open(server.port) for _ in range(2)]  # type: ignore[arg-type]
        assert [h.status for h in holders] == [101, 101]
        assert server.connections == 3
        with pytest.raises(HandshakeError) as info:
            async with connect(url_of(server), dialect="beta", ping_interval=None):
                pass  # pragma: no cover
        assert info.value.status_code == 503
        assert b"server_busy" in info.value.body
        extra = await RawClient.open(server.port)  # type: ignore[arg-type]
        assert extra.status == 503
        await extra.read_all()
        assert b"server_busy" in extra.received and b"session" not in extra.received
        await other.turn()
        # A slot that frees up is taken again.
        await holders[0].aclose()
        await wait_for(lambda: server.connections == 2)
        again = await RawClient.open(server.port)  # type: ignore[arg-type]
        assert again.status == 101
        await other.turn()


async def test_a_connection_flood_beyond_the_limit_leaves_the_admitted_sessions_alone() -> None:
    server = RealtimeServer(max_connections=2)
    async with running(server), healthy(server) as other:
        statuses: list[int | None] = []

        async def knock() -> None:
            try:
                client = await RawClient.open(server.port)  # type: ignore[arg-type]
                statuses.append(client.status)
                await client.aclose()
            except OSError:
                statuses.append(None)

        async with trio.open_nursery() as nursery:
            for _ in range(100):
                nursery.start_soon(knock)
            await other.turn()
        await other.turn()
        assert len(statuses) == 100 and set(statuses) <= {101, 503}
        assert statuses.count(503) >= 50  # one slot was free, taken and freed in turn


async def raw_answer(port: int, request: bytes) -> bytes:
    """Send ``request`` on a fresh connection; everything the server answers before closing."""
    client = await RawClient.open(port, handshake=False)
    await client.send(request)
    await client.read_all()
    return bytes(client.received)


BAD_TARGET = RawClient.request().replace(b"GET /v1/realtime", b"GET http://[::1/v1/realtime", 1)
"""A request target ``urlsplit`` refuses (an unclosed IPv6 bracket)."""


@pytest.mark.parametrize("full", [False, True], ids=["admitted", "over-the-limit"])
async def test_a_target_that_cannot_be_split_gets_400_and_never_reaches_the_server(
    full: bool,
) -> None:
    server = RealtimeServer(max_connections=1 if full else 10)
    async with running(server), healthy(server) as other:
        answer = await raw_answer(server.port, BAD_TARGET)  # type: ignore[arg-type]
        # A bad request is a bad request, over the limit too (a 503 is for a good one).
        assert answer.startswith(b"HTTP/1.1 400 "), answer[:40]
        assert server.failures == 0
        await other.turn()
    assert server.failures == 0


async def test_an_exception_while_turning_a_client_away_stays_with_that_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = RealtimeServer(max_connections=1)
    async with running(server), healthy(server) as other:

        def broken(data: Any) -> None:
            raise RuntimeError("a bug in the handshake parser")

        fresh = server._new_connection

        def new_connection() -> Any:
            conn = fresh()
            monkeypatch.setattr(conn, "receive_data", broken)
            return conn

        monkeypatch.setattr(server, "_new_connection", new_connection)
        answer = await raw_answer(server.port, RawClient.request())  # type: ignore[arg-type]
        assert answer == b""  # dropped without a word, and alone
        await wait_for(lambda: server.failures == 1, what="the failure to be counted")
        await other.turn()


async def test_clients_over_the_limit_of_a_tls_server_get_503_over_tls() -> None:
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    trusting = ssl.create_default_context()
    ca.configure_trust(trusting)
    server = RealtimeServer(ssl_context=context, max_connections=1)
    async with running(server):
        url = f"wss://127.0.0.1:{server.port}/v1/realtime"
        async with connect(url, dialect="beta", ping_interval=None, ssl_context=trusting):
            with pytest.raises(HandshakeError) as info:
                async with connect(url, dialect="beta", ping_interval=None, ssl_context=trusting):
                    pass  # pragma: no cover
            assert info.value.status_code == 503
            assert b"server_busy" in info.value.body
    assert server.failures == 0


# -- idle connections cost nothing ----------------------------------------------------------------


class Steps(trio.abc.Instrument):
    """Counts task steps (except the test's own) and the run loop's waits for I/O."""

    def __init__(self, ignore: trio.lowlevel.Task) -> None:
        self.ignore = ignore
        self.steps: Counter[str] = Counter()
        self.io_waits = 0

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        if task is not self.ignore:
            self.steps[task.name] += 1

    def after_io_wait(self, timeout: float) -> None:
        self.io_waits += 1


@pytest.mark.parametrize("idle_timeout", [None, 60.0])
async def test_idle_connections_take_no_scheduler_steps(idle_timeout: float | None) -> None:
    server = RealtimeServer(idle_timeout=idle_timeout)
    async with running(server):
        clients = [await RawClient.open(server.port) for _ in range(40)]  # type: ignore[arg-type]
        await wait_for(lambda: server.connections == 40)
        await trio.sleep(0.3)  # every session.created written
        steps = Steps(trio.lowlevel.current_task())
        trio.lowlevel.add_instrument(steps)
        try:
            await trio.sleep(2.5)  # more than any polling period a watchdog would use
            quiet = dict(steps.steps)
            waits = steps.io_waits
            # The instrument does see connection tasks: one message wakes one.
            await clients[0].send_json({"type": "input_audio_buffer.clear"})
            await trio.sleep(0.2)
        finally:
            trio.lowlevel.remove_instrument(steps)
        assert quiet == {}
        assert waits <= 3  # the test's own sleep, nothing per connection
        assert sum(steps.steps.values()) > 0


# -- trickled frames, messages and handshakes -------------------------------------------------------


async def trickle(client: RawClient, data: bytes, interval: float) -> None:
    try:
        for i in range(len(data)):
            await client.send(data[i : i + 1])
            await trio.sleep(interval)
    except (trio.BrokenResourceError, trio.ClosedResourceError):
        pass


@pytest.mark.parametrize(
    "attack",
    [
        pytest.param(frame(0x1, b'{"type":"response.create"}' * 20, mask=True), id="frame"),
        pytest.param(
            frame(0x1, b'{"type":', fin=False, mask=True)
            + frame(0x9, b"ping", mask=True)
            + frame(0x0, b'"response.create"', fin=False, mask=True)
            + frame(0x9, b"ping", mask=True)
            + frame(0x0, b"}" + b" " * 400, fin=False, mask=True),
            id="fragmented-message",
        ),
    ],
)
async def test_a_frame_or_message_fed_a_byte_at_a_time_is_cut_off(attack: bytes) -> None:
    server = RealtimeServer(frame_timeout=0.6, close_timeout=0.5)
    async with running(server), healthy(server) as other:
        attacker = await RawClient.open(server.port)  # type: ignore[arg-type]
        async with trio.open_nursery() as nursery:
            nursery.start_soon(trickle, attacker, attack, 0.02)
            start = trio.current_time()
            await other.turn()
            code = await attacker.close_code(timeout=10)
            took = trio.current_time() - start
            nursery.cancel_scope.cancel()
        assert code == 1008
        assert 0.5 <= took < 5  # the deadline, not the end of the trickle (8+ s)
        await other.turn()


async def test_frames_that_keep_coming_are_not_a_trickle() -> None:
    # Every read ends inside a frame, but each time it is a new one: the client
    # is busy, not stuck, and must not be cut off.
    server = RealtimeServer(frame_timeout=0.3)
    async with running(server):
        client = await RawClient.open(server.port)  # type: ignore[arg-type]
        message = frame(0x1, b'{"type":"input_audio_buffer.clear"}', mask=True)
        size = len(message)
        stream = message * 100
        sent = size // 2
        await client.send(stream[:sent])
        start = trio.current_time()
        while trio.current_time() - start < 1.2:  # four frame timeouts
            await trio.sleep(0.05)
            await client.send(stream[sent : sent + size])  # ends inside the next frame
            sent += size
        await client.send(stream[sent : sent + size - sent % size])  # the last frame's end
        await trio.sleep(0.1)
        assert server.connections == 1
        await client.send(frame(0x8, (1000).to_bytes(2, "big"), mask=True))
        assert await client.close_code() == 1000


async def test_a_handshake_fed_a_byte_at_a_time_is_cut_off() -> None:
    server = RealtimeServer(handshake_timeout=0.5)
    async with running(server), healthy(server) as other:
        attacker = await RawClient.open(server.port, handshake=False)  # type: ignore[arg-type]
        async with trio.open_nursery() as nursery:
            nursery.start_soon(trickle, attacker, RawClient.request(), 0.05)
            await other.turn()
            assert await attacker.read_all(timeout=5) == []  # closed without an answer
            nursery.cancel_scope.cancel()
        await other.turn()


async def test_the_session_still_expires_at_its_maximum_length() -> None:
    server = RealtimeServer(max_session_seconds=0.6)
    async with running(server):
        async with connect(url_of(server), dialect="beta", ping_interval=None) as rt:
            with trio.fail_after(5):
                events = [event async for event, _ in rt]
        assert [type(e).__name__ for e in events] == ["SessionCreated", "ErrorEvent"]
        assert isinstance(events[1], ev.ErrorEvent)
        assert events[1].error.code == "session_expired"
        assert rt.closed is not None and rt.closed.code == 1001


async def test_shutdown_ends_idle_sessions_at_once() -> None:
    server = RealtimeServer(close_timeout=0.5)  # raw clients never answer the close
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve, "127.0.0.1", 0)
        clients = [await RawClient.open(server.port) for _ in range(5)]  # type: ignore[arg-type]
        await wait_for(lambda: server.connections == 5)
        with trio.fail_after(3):
            server.shutdown()
            codes = [await c.close_code() for c in clients]
    assert codes == [1001] * 5


@pytest.mark.parametrize("line_end", [b"\r\n", b"\n"], ids=["crlf", "bare-lf"])
async def test_events_sent_with_the_handshake_are_answered_without_more_bytes(
    line_end: bytes,
) -> None:
    # h11 ends a request head at its first blank line, bare LF line ends included: the
    # frames behind it must be found there, not after a "\r\n\r\n" that is not there.
    async with running(RealtimeServer()) as server:
        client = await RawClient.open(server.port, handshake=False)  # type: ignore[arg-type]
        clear = frame(0x1, b'{"type":"input_audio_buffer.clear","event_id":"early"}', mask=True)
        request = RawClient.request().replace(b"\r\n", line_end)
        await client.send(request + clear)  # one segment
        with trio.fail_after(5):
            while len(client.events()) < 2:
                client.received += await client.stream.receive_some(65536)
                head, _, rest = bytes(client.received).partition(b"\r\n\r\n")
                if rest and head.startswith(b"HTTP/1.1 101"):
                    client.received = bytearray(rest)
        assert [e["type"] for e in client.events()] == [
            "session.created",
            "input_audio_buffer.cleared",
        ]


class EventsPerStep(trio.abc.Instrument):
    """The most client events one task step handled (counted by ``ServerSession.reject_unknown``)."""

    def __init__(self) -> None:
        self.now = 0
        self.most = 0
        self.total = 0

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        self.now = 0

    def handled(self) -> None:
        self.now += 1
        self.total += 1
        self.most = max(self.most, self.now)


async def test_a_read_full_of_small_events_does_not_hold_the_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 64 KiB of tiny events is some 3000 of them in one read: handled in one task
    # step, they would hold every other session for tens of milliseconds.
    steps = EventsPerStep()
    reject_unknown = ServerSession.reject_unknown

    def counted(self: ServerSession, event: Any) -> Any:
        steps.handled()
        return reject_unknown(self, event)

    monkeypatch.setattr(ServerSession, "reject_unknown", counted)
    async with running(RealtimeServer()) as server, healthy(server) as other:
        bad = frame(0x1, b'{"type":"nope"}', mask=True)
        burst = bad * (65536 // len(bad))
        client = await RawClient.open(server.port, handshake=False)  # type: ignore[arg-type]
        trio.lowlevel.add_instrument(steps)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(client.read_all)  # the error events, as they come
                await client.send(RawClient.request() + burst)  # handled once accepted
                for _ in range(3):
                    await client.send(burst)
                await wait_for(lambda: steps.total == 4 * (65536 // len(bad)), what="all events")
                await other.turn()
                nursery.cancel_scope.cancel()
        finally:
            trio.lowlevel.remove_instrument(steps)
    assert steps.most <= EVENTS_PER_STEP, steps.most


# -- paths and keys ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/evil/realtime", "/v1/realtime/", "/v2/realtime", "/v1/realtime/x", "/realtime"]
)
async def test_only_the_exact_path_is_served(path: str) -> None:
    async with running(RealtimeServer()) as server:
        client = await RawClient.open(server.port, path=path)  # type: ignore[arg-type]
        assert client.status == 404
        good = await RawClient.open(server.port)  # type: ignore[arg-type]
        assert good.status == 101


async def test_the_path_can_be_chosen() -> None:
    async with running(RealtimeServer(path="/rt")) as server:
        assert (await RawClient.open(server.port, path="/rt")).status == 101  # type: ignore[arg-type]
        assert (await RawClient.open(server.port)).status == 404  # type: ignore[arg-type]


async def test_keys_are_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def compare_digest(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", compare_digest)
    keys = ["sk-first", "sk-second", "sk-third"]
    async with running(RealtimeServer(api_keys=keys)) as server:
        for key, status in [
            ("sk-first", 101),  # a match on the first key still compares every key
            ("sk-firs", 401),
            ("sk-first-and-more", 401),
            ("sk-third", 101),
        ]:
            calls.clear()
            client = await RawClient.open(server.port, api_key=key)  # type: ignore[arg-type]
            assert client.status == status, key
            assert len(calls) == len(keys)
            # Digests of equal length: the time does not depend on the key's length either.
            assert {len(a) for a, _ in calls} == {len(b) for _, b in calls} == {32}


# -- logs ---------------------------------------------------------------------------------------


def test_the_log_throttle_passes_a_budget_per_kind_and_counts_the_rest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    logs = ThrottledLog(
        logging.getLogger("rtcore.test"), lines=3, interval=10, clock=lambda: now[0]
    )
    caplog.set_level(logging.INFO, "rtcore.test")
    passed = [logs.note("error", "bad %d", n) for n in range(10)]
    assert passed == [True] * 3 + [False] * 7
    assert logs.note("connection", "another kind has its own budget")
    assert logs.suppressed("error") == 7
    now[0] = 10.5
    assert logs.note("error", "bad again")
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "bad 0",
        "bad 1",
        "bad 2",
        "another kind has its own budget",
        "(7 more 'error' lines suppressed in 10 s)",
        "bad again",
    ]


async def test_a_flood_of_bad_events_costs_a_bounded_number_of_log_lines(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, "rtcore.serve")
    server = RealtimeServer(log_lines=5, log_interval=60)
    async with running(server), healthy(server) as other:
        attacker = await RawClient.open(server.port)  # type: ignore[arg-type]
        async with trio.open_nursery() as nursery:
            nursery.start_soon(attacker.read_all)  # it reads its 300 error events
            for n in range(300):
                await attacker.send_json({"type": "no.such.event", "event_id": f"e{n}"})
            await wait_for(lambda: server.logs.suppressed("error") == 295)
            await other.turn()
            nursery.cancel_scope.cancel()
    error_lines = [r for r in caplog.records if " error " in r.getMessage()]
    assert len(error_lines) == 5


def test_serve_help_lists_every_limit_with_its_default(capsys: pytest.CaptureFixture[str]) -> None:
    import msgspec

    from rtcore.server import ServerLimits
    from rtcore_trio.cli import main

    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    out = capsys.readouterr().out
    # One block per option: from its line ("  --name ...") to the next option's.
    blocks = {
        block.split()[0]: " ".join(block.split())
        for block in re.split(r"\n  (?=-)", out)
        if block.startswith("-")
    }
    options = [
        "--path",
        "--max-connections",
        "--max-message-size",
        "--handshake-timeout",
        "--frame-timeout",
        "--idle-timeout",
        "--session-seconds",
        "--write-timeout",
        "--close-timeout",
        "--log-lines",
        "--log-interval",
    ] + ["--" + f.name.replace("_", "-") for f in msgspec.structs.fields(ServerLimits)]
    for option in options:
        assert "(default: " in blocks[option], option
    # A fragmented message is bounded by its size (every frame header counts): no fragment count.
    assert "--max-fragments" not in blocks
    # The bounds fixed by design are listed with their values too.
    from rtcore.events.explain import MAX_NESTING_DEPTH
    from rtcore_trio.connection import EVENTS_PER_STEP

    fixed = " ".join(out.split("fixed bounds (not configurable):", 1)[1].split())
    assert f"JSON nesting {MAX_NESTING_DEPTH} levels" in fixed
    assert f"per loop step {EVENTS_PER_STEP}" in fixed
