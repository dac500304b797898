"""Bounded output and a paced ping flood (issue 22, item 2), over real loopback sockets.

* A ping flood from a client that reads its pongs costs the flooder: past
  ``PINGS_PER_SECOND`` its connection is not read until its pings are back under the
  rate, and far past it (a wait over ``PING_FLOOD_SECONDS``) its session ends with 1008;
  it gets few pongs and a healthy session's turns stay fast.
* Output is written a batch at a time (``WRITE_BATCH``), encoded as it is written: a
  client that asks for the session's echo again and again (after one huge
  ``instructions``) and never reads pins at most about one echo, not one per request,
  until the write timeout drops it; a healthy session's turns stay fast meanwhile.
* A client that does read its echoes gets them at a bounded rate: each ``session.updated``
  and ``conversation.item.retrieved`` is paid for from the session's echo budget (a burst of
  the session's memory budget, then ``echo_bytes_per_second``); beyond it the request is
  refused with ``echo_rate_exceeded`` and changes nothing.
"""

from __future__ import annotations

import json
import statistics
import time
import tracemalloc

import trio
from attackkit import RawClient, healthy, running, wait_for
from wirekit import frame

from rtcore.server import ServerLimits, ServerSession
from rtcore.wire.framing import MAX_PINGS_AT_ONCE
from rtcore_trio import RealtimeServer
from rtcore_trio.connection import PINGS_PER_SECOND

MIB = 1024 * 1024

PING = frame(9, b"", mask=True)


async def _turn_times(other: object, turns: int) -> list[float]:
    times = []
    for _ in range(turns):
        began = time.perf_counter()
        await other.turn()  # type: ignore[attr-defined]
        times.append(time.perf_counter() - began)
    return times


async def test_a_ping_flood_costs_the_flooder_not_everyone() -> None:
    server = RealtimeServer(close_timeout=1.0)
    async with running(server), healthy(server) as other:
        baseline = statistics.median(await _turn_times(other, 5))
        flooder = await RawClient.open(server.port)  # type: ignore[arg-type]
        pongs = 0
        sent = 0
        told = False

        async def flood() -> None:
            nonlocal sent
            burst = PING * 1000
            try:
                while True:
                    await flooder.stream.send_all(burst)
                    sent += 1000
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                pass  # closed by the server

        async def read_pongs() -> None:
            nonlocal pongs, told
            tail = b""
            while True:
                try:
                    data = await flooder.stream.receive_some(65536)
                except trio.BrokenResourceError:
                    return
                if not data:
                    return
                pongs += data.count(b"\x8a\x00")
                told = told or b"ping flood" in tail + data  # the close frame's reason
                tail = data[-32:]

        async with trio.open_nursery() as nursery:
            nursery.start_soon(flood)
            nursery.start_soon(read_pongs)
            await trio.sleep(0.5)
            during = await _turn_times(other, 10)
            await wait_for(lambda: server.connections == 1, what="the flooder's end")
            nursery.cancel_scope.cancel()
        # A read holds up to ~11 000 pings: the wire answers at most MAX_PINGS_AT_ONCE of
        # one read and closes the flood there, so the flooder gets few pongs.
        assert pongs < sent / 2, (pongs, sent)
        assert pongs <= 2 * MAX_PINGS_AT_ONCE + 5 * PINGS_PER_SECOND, (pongs, sent)
        assert statistics.median(during) < 5 * baseline + 0.05, (baseline, during)
        assert max(during) < 1.0, during
        assert told, "the flooder got no close frame saying why"


async def test_a_client_that_never_reads_its_echoes_pins_about_one_of_them() -> None:
    server = RealtimeServer(write_timeout=3.0)
    async with running(server), healthy(server) as other:
        baseline = statistics.median(await _turn_times(other, 5))
        attacker = await RawClient.open(server.port, receive_buffer=4096)  # type: ignore[arg-type]
        huge = {"type": "session.update", "session": {"instructions": "x" * 8 * 1024 * 1024}}
        await attacker.send_json(huge)
        small = frame(1, json.dumps({"type": "session.update", "session": {}}).encode(), mask=True)
        tracemalloc.start()
        try:
            await attacker.send(small * 64)  # 64 more echoes of 8 MiB asked for in 3 KB
            during = await _turn_times(other, 5)
            await wait_for(lambda: server.connections == 1, timeout=30, what="the drop")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        # One echo being written (its encoding and its frame), not one per request.
        assert peak < 4 * 8 * 1024 * 1024, peak
        assert statistics.median(during) < 5 * baseline + 0.05, (baseline, during)
        await attacker.aclose()


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _answers(session: ServerSession, message: dict[str, object]) -> list[str]:
    session.receive_message(json.dumps(message))
    return [
        e.error.code if e.type == "error" else e.type  # type: ignore[attr-defined]
        for e in session.events_to_send()
    ]


def test_echoes_of_a_huge_configuration_are_paid_for_and_refused_beyond_the_rate() -> None:
    clock = _Clock()
    limits = ServerLimits(max_session_bytes=30 * MIB, echo_bytes_per_second=MIB)
    session = ServerSession(limits=limits, clock=clock)
    session.events_to_send()
    huge = {
        "type": "session.update",
        "session": {"type": "realtime", "instructions": "x" * 8 * MIB},
    }
    small = {"type": "session.update", "session": {"type": "realtime"}}
    assert _answers(session, huge) == ["session.updated"]
    # 30 MiB of burst: the huge update and two more echoes of 8 MiB; the fourth is refused.
    assert [_answers(session, small) for _ in range(3)] == [["session.updated"]] * 2 + [
        ["echo_rate_exceeded"]
    ]
    # A refused update changes nothing.
    voice = session.session.voice
    assert _answers(
        session, {**small, "session": {"type": "realtime", "audio": {"output": {"voice": "echo"}}}}
    ) == ["echo_rate_exceeded"]
    assert session.session.voice == voice
    clock.now += 1.0  # 7 MiB in the bucket: not yet one echo
    assert _answers(session, small) == ["echo_rate_exceeded"]
    clock.now += 2.0
    assert _answers(session, small) == ["session.updated"]
    # Retrieving a large item is an echo too, from the same budget.
    item = {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "y" * 4 * MIB}],
    }
    assert _answers(
        session, {"type": "conversation.item.create", "item": {**item, "id": "big"}}
    ) == [
        "conversation.item.added",
        "conversation.item.done",
    ]
    retrieve = {"type": "conversation.item.retrieve", "item_id": "big"}
    clock.now += 20.0
    answers = [_answers(session, retrieve)[0] for _ in range(10)]
    assert answers[:2] == ["conversation.item.retrieved"] * 2, answers
    assert "echo_rate_exceeded" in answers


def test_a_session_that_sets_nothing_large_never_meets_the_echo_budget() -> None:
    session = ServerSession(clock=_Clock())  # time stands still: nothing refills
    session.events_to_send()
    update = {
        "type": "session.update",
        "session": {"type": "realtime", "instructions": "Be brief."},
    }
    assert {a for _ in range(2000) for a in _answers(session, update)} == {"session.updated"}


async def test_a_client_that_reads_its_echoes_gets_them_at_a_bounded_rate() -> None:
    limits = ServerLimits(max_session_bytes=40 * MIB, echo_bytes_per_second=4 * MIB)
    server = RealtimeServer(limits=limits)
    async with running(server), healthy(server) as other:
        baseline = statistics.median(await _turn_times(other, 5))
        attacker = await RawClient.open(server.port)  # type: ignore[arg-type]
        instructions = "x" * 15 * MIB
        await attacker.send_json(
            {"type": "session.update", "session": {"instructions": instructions}}
        )
        small = frame(1, json.dumps({"type": "session.update", "session": {}}).encode(), mask=True)
        began = time.perf_counter()
        received = 0

        async def read() -> None:
            nonlocal received
            while True:
                data = await attacker.stream.receive_some(1 << 20)
                if not data:
                    return
                received += len(data)
                attacker.received += data

        async with trio.open_nursery() as nursery:
            nursery.start_soon(read)
            await attacker.send(small * 200)  # 200 echoes of 15 MiB asked for in 10 KB
            during = await _turn_times(other, 10)
            await trio.sleep(1.0)
            elapsed = time.perf_counter() - began
            nursery.cancel_scope.cancel()
        codes = [e["error"]["code"] for e in attacker.events() if e["type"] == "error"]
        echoes = [e for e in attacker.events() if e["type"] == "session.updated"]
        # The burst (40 MiB: the first update's echo and one more) and the rate since, not 3 GB.
        assert received < 40 * MIB + 4 * MIB * elapsed + MIB, (received, elapsed)
        assert 2 <= len(echoes) < 2 + elapsed * 4 / 15 + 1, (len(echoes), elapsed)
        assert codes.count("echo_rate_exceeded") >= 150, codes[:5]
        assert statistics.median(during) < 5 * baseline + 0.05, (baseline, during)
        await attacker.aclose()
