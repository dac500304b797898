"""The read tick's timer (``rtcore_trio/ticker.py``): the ``timerfd`` ticker and the fallback
over ``trio.sleep_until`` keep the same period and phase, and the reader uses the timer."""

from __future__ import annotations

import os
import select
import sys
from collections.abc import Callable

import pytest
import trio

from rtcore_trio import RealtimeServer, ticker
from rtcore_trio.ticker import Ticker, TimerTicker, make_ticker, sleeping_ticker

HAS_TIMERFD = sys.platform.startswith("linux")

KINDS: list[Callable[[float], Ticker]] = [sleeping_ticker]
if HAS_TIMERFD:
    KINDS.insert(0, TimerTicker)

PERIOD = 0.02


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
