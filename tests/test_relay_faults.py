"""``--fault``: each fault as the client observes it, through a relay before ``rtcore serve``."""

from __future__ import annotations

from typing import Any

import pytest
import trio
from test_relay import RELAY_KEY, ending, relay_to, text_turn, until, upstream_server, url

from rtcore import events as ev
from rtcore_trio import Fault, HandshakeError, connect, parse_fault


def faults(*specs: str) -> list[Fault]:
    return [parse_fault(spec) for spec in specs]


async def session_update_round_trip(**options: Any) -> float:
    """Seconds from a ``session.update`` to its ``session.updated``, through a relay with ``options``."""
    async with upstream_server() as up, relay_to(url(up), **options) as relay:
        async with connect(f"ws://127.0.0.1:{relay.port}/v1/realtime", api_key=RELAY_KEY) as client:
            await until(client, "session.created")
            began = trio.current_time()
            await client.send(ev.InputAudioBufferClear())
            await until(client, "input_audio_buffer.cleared")
            return trio.current_time() - began


@pytest.mark.parametrize("direction", ["down", "up"])
async def test_latency_delays_each_message_in_its_direction(direction: str) -> None:
    plain = await session_update_round_trip()
    delayed = await session_update_round_trip(
        faults=faults(f"latency=200ms,jitter=20ms,direction={direction}")
    )
    assert 0.15 <= delayed - plain < 0.6  # 200 ms, less up to 20 ms of jitter


async def test_close_after_n_server_events_gives_that_code() -> None:
    async with (
        upstream_server() as up,
        relay_to(url(up), faults=faults("close=1011,after=3")) as relay,
    ):
        async with connect(f"ws://127.0.0.1:{relay.port}/v1/realtime", api_key=RELAY_KEY) as client:
            await until(client, "session.created")
            await client.send(ev.InputAudioBufferClear())
            await client.send(ev.InputAudioBufferClear())
            await client.send(ev.InputAudioBufferClear())
            events, code = await ending(client)
    assert code == 1011
    assert [e.type for e in events] == ["input_audio_buffer.cleared"] * 2


async def test_close_after_a_time() -> None:
    async with (
        upstream_server() as up,
        relay_to(url(up), faults=faults("close=4001,after=300ms")) as relay,
    ):
        async with connect(f"ws://127.0.0.1:{relay.port}/v1/realtime", api_key=RELAY_KEY) as client:
            began = trio.current_time()
            _, code = await ending(client)
            took = trio.current_time() - began
    assert code == 4001 and 0.25 <= took < 2


async def test_drop_ends_the_connection_without_a_close_frame() -> None:
    async with upstream_server() as up, relay_to(url(up), faults=faults("drop,after=1")) as relay:
        async with connect(f"ws://127.0.0.1:{relay.port}/v1/realtime", api_key=RELAY_KEY) as client:
            events, code = await ending(client)
            # No close frame came: the transport just ended.
            assert client.closed is None or client.closed.initiator == "abnormal"
    assert [e.type for e in events] == ["session.created"] and code == 1006


async def test_refuse_answers_the_handshake_with_that_status() -> None:
    async with upstream_server() as up, relay_to(url(up), faults=faults("refuse=503")) as relay:
        with pytest.raises(HandshakeError) as refused:
            async with connect(f"ws://127.0.0.1:{relay.port}/v1/realtime", api_key=RELAY_KEY):
                pass
    assert refused.value.status_code == 503


async def test_the_other_sessions_go_on_when_one_is_closed_by_a_fault() -> None:
    async with (
        upstream_server() as up,
        relay_to(url(up), faults=faults("close=1011,after=40")) as relay,
    ):
        address = f"ws://127.0.0.1:{relay.port}/v1/realtime"
        async with (
            connect(address, api_key=RELAY_KEY) as first,
            connect(address, api_key=RELAY_KEY) as second,
        ):
            done = await text_turn(first)
            assert done.response.status == "completed"
            # The first session has had most of its 40 events: the second has its own count.
            done = await text_turn(second)
            assert done.response.status == "completed"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("latency=fast", "expected a duration"),
        ("close=1011", "needs after="),
        ("drop=2,after=1", "drop takes no value"),
        ("refuse=200", "400 to 599"),
        ("explode", "not a fault"),
        ("latency=5ms,after=3", "does not take after"),
        ("latency=5ms,direction=sideways", "expected up or down"),
    ],
)
def test_a_bad_spec_is_named(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_fault(spec)


def test_specs_parse() -> None:
    assert parse_fault("latency=50ms,jitter=10ms,direction=up") == Fault(
        kind="latency", latency=0.05, jitter=0.01, direction="up"
    )
    assert parse_fault("close=1011,after=5") == Fault(kind="close", code=1011, after_events=5)
    assert parse_fault("drop,after=2s") == Fault(kind="drop", after_seconds=2.0)
    assert parse_fault("refuse=503") == Fault(kind="refuse", status=503)
