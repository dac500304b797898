"""The one reader's read tick: a periodic timer that trio waits on as on a socket.

``trio.sleep_until`` builds a cancel scope, registers a deadline and is woken
by a ``Cancelled`` raised into the sleeping task and caught again: about 45 us
of CPU per sleep on the development machine, and about 435 us when the process
wakes from idle for it, where a wait for a readable descriptor costs 20 and
300 us. A reader that ticks every 5 ms sleeps 200 times a second: with this
timer instead, a lightly loaded server's CPU per frame was 4-7% lower in each
of five alternated rounds (the ``benchmarks/bench_scale.py`` load, a 5 ms tick:
50 sessions 101-103 us with ``sleep_until``, 96-97 with the timer; 250
sessions 58-61 and 54-56); with a 10 ms tick, half as many sleeps, 1-8% lower
in four rounds of five. Linux's ``timerfd`` turns the tick into a descriptor
that becomes readable once per period: the reader waits for it as for any
socket and reads its count of expirations.

``Ticker(period)`` uses ``os.timerfd_create`` (Python 3.13 and later) or, on
older Pythons, the C library's ``timerfd_create`` and ``timerfd_settime``
through ``ctypes`` (64-bit Linux only: there ``time_t`` and ``long`` are both
64 bits, which the ``itimerspec`` layout below assumes). Where neither is
available, ``sleeping_ticker`` gives the same interface over ``trio.sleep_until``.

The timer keeps its phase: a pass over the ready sockets that starts at an
expiry and takes less than a period is followed by a wait until the next
expiry, one period after the last (as ``sleep_until(start + period)`` did); a
pass that takes longer finds the timer expired and goes on at once.
``restart()`` moves the phase to now: the reader calls it when it wakes from
idle (nothing was ready), so that an idle server reads at once and its next
pass comes one period later, not at a stale expiry.
"""

from __future__ import annotations

import ctypes
import os
import sys
from typing import Protocol

import trio

__all__ = ["Ticker", "TimerTicker", "make_ticker", "sleeping_ticker"]


class Ticker(Protocol):
    """Waits for the next tick of a period (see the module docstring)."""

    period: float

    def restart(self) -> None:
        """The next tick comes one period from now."""

    async def wait(self) -> None:
        """Until the next tick (at once when it has passed)."""

    def close(self) -> None:
        """Release the timer."""


_NS = 1_000_000_000
_CLOCK_MONOTONIC = 1
_TFD_NONBLOCK = os.O_NONBLOCK
_TFD_CLOEXEC = getattr(os, "O_CLOEXEC", 0o2000000)


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


class _LibcTimer:
    """``timerfd_create`` and ``timerfd_settime`` of the C library (Pythons before 3.13)."""

    def __init__(self) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self._create = libc.timerfd_create
        self._create.argtypes = [ctypes.c_int, ctypes.c_int]
        self._create.restype = ctypes.c_int
        self._settime = libc.timerfd_settime
        self._settime.argtypes = [
            ctypes.c_int,
            ctypes.c_int,
            ctypes.POINTER(_Itimerspec),
            ctypes.c_void_p,
        ]
        self._settime.restype = ctypes.c_int

    def create(self) -> int:
        fd = int(self._create(_CLOCK_MONOTONIC, _TFD_NONBLOCK | _TFD_CLOEXEC))
        if fd < 0:
            error = ctypes.get_errno()
            raise OSError(error, os.strerror(error))
        return fd

    def set(self, fd: int, period_ns: int) -> None:
        every = _Timespec(period_ns // _NS, period_ns % _NS)
        spec = _Itimerspec(every, every)
        if self._settime(fd, 0, ctypes.byref(spec), None) < 0:
            error = ctypes.get_errno()
            raise OSError(error, os.strerror(error))


class _OsTimer:
    """``os.timerfd_create`` and ``os.timerfd_settime_ns`` (Python 3.13 and later)."""

    def create(self) -> int:
        fd: int = os.timerfd_create(  # type: ignore[attr-defined,unused-ignore]
            _CLOCK_MONOTONIC, flags=_TFD_NONBLOCK | _TFD_CLOEXEC
        )
        return fd

    def set(self, fd: int, period_ns: int) -> None:
        os.timerfd_settime_ns(  # type: ignore[attr-defined,unused-ignore]
            fd, initial=period_ns, interval=period_ns
        )


class TimerTicker:
    """A periodic ``timerfd`` (see the module docstring). Raises ``OSError`` where the
    system has none."""

    def __init__(self, period: float) -> None:
        _check_period(period)
        self.period = period
        self._period_ns = max(1, round(period * _NS))
        self._timer = _system_timer()
        self._fd = self._timer.create()
        try:
            self._timer.set(self._fd, self._period_ns)
        except BaseException:
            os.close(self._fd)
            raise

    def restart(self) -> None:
        self._timer.set(self._fd, self._period_ns)

    async def wait(self) -> None:
        await trio.lowlevel.wait_readable(self._fd)
        try:
            os.read(self._fd, 8)  # the expirations since the last read: counted, not needed
        except BlockingIOError:
            # Readable but nothing to read: only a re-arm in between could do that, and only
            # the waiting task re-arms; should it ever happen, the wait was merely short.
            pass

    def close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            try:
                trio.lowlevel.notify_closing(fd)
            finally:
                os.close(fd)  # even outside trio.run, where notify_closing raises


class _SleepingTicker:
    """The same interface over ``trio.sleep_until``, where there is no ``timerfd``."""

    def __init__(self, period: float) -> None:
        _check_period(period)
        self.period = period
        self._next = trio.current_time() + period

    def restart(self) -> None:
        self._next = trio.current_time() + self.period

    async def wait(self) -> None:
        now = trio.current_time()
        # Keep the phase, as the timer does: the first expiry after now, never a stale one.
        if self._next <= now:
            self._next += self.period * (1 + (now - self._next) // self.period)
            await trio.lowlevel.checkpoint()
            return
        await trio.sleep_until(self._next)
        self._next += self.period

    def close(self) -> None:
        pass


def _check_period(period: float) -> None:
    if not period > 0:  # also refuses NaN
        raise ValueError(f"a ticker needs a period above 0, not {period!r}")


def sleeping_ticker(period: float) -> Ticker:
    """A ticker over ``trio.sleep_until`` (inside ``trio.run``): the fallback, and a
    reference for tests."""
    return _SleepingTicker(period)


def make_ticker(period: float) -> Ticker:
    """A ``TimerTicker`` where the system has ``timerfd`` (Linux), else ``sleeping_ticker``.

    Must be called inside ``trio.run`` (the fallback reads trio's clock).
    """
    try:
        return TimerTicker(period)
    except (OSError, AttributeError):
        return sleeping_ticker(period)


def _system_timer() -> _OsTimer | _LibcTimer:
    if hasattr(os, "timerfd_create"):
        return _OsTimer()
    if not sys.platform.startswith("linux") or ctypes.sizeof(ctypes.c_long) != 8:
        raise OSError("no timerfd: Linux with a 64-bit C library, or Python 3.13, has one")
    return _LibcTimer()
