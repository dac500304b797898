"""The read tick's timer (``rtcore_trio/ticker.py``): the ``timerfd`` ticker and the fallback
over ``trio.sleep_until`` keep the same period and phase, and the reader uses the timer."""

from __future__ import annotations

import os
import select
from collections.abc import Callable
from typing import Any

import pytest
import trio

from rtcore import events as ev
from rtcore.events import beta
from rtcore_trio import RealtimeServer, connect, ticker
from rtcore_trio import reader as reader_module
from rtcore_trio.ticker import Ticker, TimerTicker, make_ticker, sleeping_ticker


def _has_timerfd() -> bool:
    try:
        ticker._system_timer()
    except (OSError, AttributeError):
        return False
    return True


HAS_TIMERFD = _has_timerfd()

KINDS: list[Callable[[float], Ticker]] = [sleeping_ticker]
if HAS_TIMERFD:
    KINDS.insert(0, TimerTicker)

PERIOD = 0.02
NO_VAD = beta.SessionUpdate(session=beta.SessionConfig(turn_detection=None))


async def until(rt: Any, kind: type[Any]) -> Any:
    async for event, _ in rt:
        if isinstance(event, kind):
            return event
    raise AssertionError(f"no {kind!r}")


@pytest.mark.parametrize("kind", KINDS)
async def test_a_ticker_ticks_once_per_period(kind: Callable[[float], Ticker]) -> None:
    tick = kind(PERIOD)
    try:
        began = trio.current_time()
        for _ in range(10):
            await tick.wait()
        elapsed = trio.current_time() - began
    finally:
        tick.close()
    # Ten periods: not fewer (a wait that returned early), and not a period per wait on top of
    # the time it took to be woken (which would be a sleep after each wakeup, not a period).
    assert 10 * PERIOD * 0.9 <= elapsed < 10 * PERIOD * 2.5


@pytest.mark.parametrize("kind", KINDS)
async def test_a_pass_longer_than_a_period_goes_on_at_once(
    kind: Callable[[float], Ticker],
) -> None:
    tick = kind(PERIOD)
    try:
        await tick.wait()
        began = trio.current_time()
        await trio.sleep(2.5 * PERIOD)  # a long pass: the next tick has passed
        await tick.wait()
        assert trio.current_time() - began < 3.5 * PERIOD
        # ...and the phase is kept: the tick after it is the next expiry, within a period.
        began = trio.current_time()
        await tick.wait()
        assert trio.current_time() - began <= PERIOD * 1.5
    finally:
        tick.close()


@pytest.mark.parametrize("kind", KINDS)
async def test_the_next_tick_keeps_the_phase(kind: Callable[[float], Ticker]) -> None:
    period = 0.05
    tick = kind(period)
    try:
        await tick.wait()
        await trio.sleep(0.5 * period)  # a pass of half a period
        began = trio.current_time()
        await tick.wait()
        # The rest of the period, not a whole one counted from the end of the pass.
        assert trio.current_time() - began < 0.8 * period
    finally:
        tick.close()


@pytest.mark.parametrize("kind", KINDS)
async def test_a_restart_puts_the_next_tick_a_period_away(
    kind: Callable[[float], Ticker],
) -> None:
    tick = kind(PERIOD)
    try:
        await trio.sleep(5 * PERIOD)  # idle: several expiries went by unread
        tick.restart()
        began = trio.current_time()
        await tick.wait()
        # Not at once (a stale expiry), but one period after the restart.
        assert PERIOD * 0.8 <= trio.current_time() - began < PERIOD * 3
    finally:
        tick.close()


@pytest.mark.parametrize("kind", KINDS)
async def test_the_period_is_checked(kind: Callable[[float], Ticker]) -> None:
    for bad in (0, -0.01, float("nan")):
        with pytest.raises(ValueError, match="period above 0"):
            kind(bad)


@pytest.mark.skipif(not HAS_TIMERFD, reason="timerfd is Linux's")
async def test_on_linux_the_ticker_is_a_timerfd_and_closing_releases_it() -> None:
    tick = make_ticker(PERIOD)
    assert isinstance(tick, TimerTicker)
    fd = tick._fd
    os.fstat(fd)
    tick.close()
    with pytest.raises(OSError):
        os.fstat(fd)
    tick.close()  # twice is harmless


async def test_without_a_timerfd_the_ticker_sleeps(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> None:
        raise OSError("no timerfd here")

    monkeypatch.setattr(ticker, "_system_timer", missing)
    tick = make_ticker(PERIOD)
    assert not isinstance(tick, TimerTicker)
    began = trio.current_time()
    await tick.wait()
    assert trio.current_time() - began >= PERIOD * 0.9
    tick.close()


class _Counting:
    """A ticker that counts its restarts (the reader's, after each idle wait)."""

    def __init__(self, inner: Ticker) -> None:
        self.inner, self.period, self.restarts = inner, inner.period, 0

    def restart(self) -> None:
        self.restarts += 1
        self.inner.restart()

    async def wait(self) -> None:
        await self.inner.wait()

    def close(self) -> None:
        self.inner.close()


@pytest.mark.skipif(not hasattr(select, "epoll"), reason="the one reader is Linux's")
async def test_a_reader_woken_from_idle_restarts_the_tick(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[_Counting] = []

    def counting(period: float) -> Ticker:
        made.append(_Counting(make_ticker(period)))
        return made[-1]

    monkeypatch.setattr(reader_module, "make_ticker", counting)
    tick = 0.01
    server = RealtimeServer(io="epoll", read_tick=tick)
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve, "127.0.0.1", 0)
        async with connect(f"ws://127.0.0.1:{server.port}/v1/realtime", dialect="beta") as rt:
            await rt.send(NO_VAD)
            await until(rt, beta.SessionUpdated)
            [ticker_of_reader] = made
            for _ in range(3):
                restarts = ticker_of_reader.restarts
                await trio.sleep(5 * tick)  # idle: the reader waits for readiness
                await rt.send(ev.InputAudioBufferCommit())  # nothing buffered: an error back
                await until(rt, ev.ErrorEvent)
                # Woken by the message, the reader read it at once and started the tick
                # again, so that its next pass is a tick later and not on a stale expiry.
                assert ticker_of_reader.restarts > restarts
        server.shutdown()


@pytest.mark.skipif(not hasattr(select, "epoll"), reason="the one reader is Linux's")
async def test_the_reader_paces_its_tick_with_the_timer() -> None:
    server = RealtimeServer(io="epoll", read_tick=0.005)
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve, "127.0.0.1", 0)
        reader = server._reader
        assert reader is not None
        await trio.sleep(0.05)
        assert reader.ticker == "TimerTicker"
        server.shutdown()
