"""One reader for every session socket of a server: ``rtcore serve --io epoll``.

With the per-task strategy each session's task waits for its own socket
(``trio.lowlevel.wait_readable``, an ``epoll_ctl`` every time) and is switched
to for every read, even for a 20 ms audio append that produces nothing to
send. Here one task waits on one level-triggered ``select.epoll`` whose own
descriptor trio watches, and for every socket that is ready it reads once
(without blocking) and feeds the bytes to that connection's sans-IO state
right away (``_Connection.absorb``): unmasking, decoding, the session, the
effects and, when the socket's buffer takes them at once, the writes. A
read that needs no waiting costs no task switch and no system call beside
the ``read`` itself (and one ``epoll_wait`` per wakeup, shared).

Each session keeps its task, its nursery and its cancel scope, so nothing of
the failure domains, deadlines and bounds moves here: the task parks in
``wait`` while the reader serves its socket, and is woken (with the error
if ``absorb`` raised, which then closes that connection alone with 1011)
whenever something needs it to wait for anything: a write the kernel
cannot take at once (back-pressure, ``write_timeout``), a batch of
``EVENTS_PER_STEP`` events (then every other task runs), pings to pace,
faults, the end of the connection. A deadline or shutdown cancels the
parked task as it would cancel its own read.

Back-pressure: the reader only reads a socket whose task is parked. A socket
that turns readable while its task is busy is taken out of the epoll set
until the task waits again, so an unread client fills its kernel buffers and
TCP slows it down exactly as on the per-task path.

The read tick (``rtcore serve --read-tick MS``, ``RealtimeServer(read_tick=)``):
after a wakeup has served the ready sockets, the reader waits for the next
tick of a periodic timer before it looks again, so that under load one wakeup
serves the frames of many sessions and its cost (trio's ``wait_readable`` on
the epoll descriptor, a pass of the scheduler, ``epoll_wait``, the process
waking) is shared among them, as a network card's interrupt coalescing does.
A read then waits at most one tick longer; a server that was idle reads at
once (when nothing is ready the reader waits for readiness as without a tick,
and the timer's phase starts again from that wakeup). The timer is a
``timerfd`` the reader waits on like a socket (``ticker.py``: trio's
``sleep_until`` cost a lightly loaded server up to 7% more CPU per frame). Zero: no
tick, a wakeup for every readiness.

Only plain TCP sockets are served here (TLS streams keep the per-task path:
their bytes must go through the TLS object, whose reads and writes trio
drives). ``select.epoll`` is Linux's; elsewhere ``io="auto"`` means the
per-task path and ``io="epoll"`` is refused.
"""

from __future__ import annotations

import os
import select
from typing import TYPE_CHECKING

import outcome
import trio

from .fastio import READ_SIZE
from .ticker import make_ticker

if TYPE_CHECKING:
    from .connection import _Connection

__all__ = [
    "DEFAULT_IO",
    "DEFAULT_READ_TICK",
    "IO_STRATEGIES",
    "MAX_READ_TICK",
    "OneReader",
    "resolve_io",
    "resolve_read_tick",
]

IO_STRATEGIES = ("auto", "epoll", "per-task")
"""``auto``: ``epoll`` where the platform has it (Linux), else ``per-task``."""
DEFAULT_IO = os.environ.get("RTCORE_IO", "auto")
"""The strategy when none is given: ``$RTCORE_IO``, else ``auto``."""
MAX_READ_TICK = 0.05
"""The longest read tick, seconds: a longer one would hold every read past the latency goals."""
DEFAULT_READ_TICK = os.environ.get("RTCORE_READ_TICK", "0")
"""The read tick when none is given, milliseconds: ``$RTCORE_READ_TICK``, else 0 (none: every
read as soon as it can be). A tick trades latency for CPU where wakeups are dear: on the shared
2-core development machine 5 and 10 ms cut the CPU per frame by 15-29% at 50 and 250 sessions,
to the bare trio server's or below, for up to a tick more per read (VAD p99 6-12 ms, 1-2 without);
``benchmarks/bench_scale.py`` measures 0, 5 and 10 side by side (docs/guide/io.md)."""
MAX_READY = 1024
"""Sockets served per wakeup; beyond that the next wakeup comes at once (after the other tasks)."""


def resolve_io(io: str | None) -> str:
    """The strategy ``io`` names on this platform (``epoll`` or ``per-task``); ``None``:
    ``DEFAULT_IO``."""
    if io is None:
        io = DEFAULT_IO
    if io not in IO_STRATEGIES:
        raise ValueError(f"io must be one of {', '.join(IO_STRATEGIES)}, not {io!r}")
    has_epoll = hasattr(select, "epoll")
    if io == "auto":
        return "epoll" if has_epoll else "per-task"
    if io == "epoll" and not has_epoll:
        raise ValueError("io='epoll' needs select.epoll (Linux); use 'per-task' here")
    return io


def resolve_read_tick(tick: float | None) -> float:
    """The read tick ``tick`` (seconds) checked; ``None``: ``DEFAULT_READ_TICK`` (ms)."""
    if tick is None:
        try:
            tick = float(DEFAULT_READ_TICK) / 1000
        except ValueError:
            raise ValueError(
                f"RTCORE_READ_TICK must be milliseconds, not {DEFAULT_READ_TICK!r}"
            ) from None
    if not 0 <= tick <= MAX_READ_TICK:  # also refuses NaN
        raise ValueError(f"the read tick must be 0 to {MAX_READ_TICK * 1000:g} ms, not {tick!r} s")
    return tick


class OneReader:
    """The one task that reads every plain-TCP session socket of a server (``run``).

    ``tick``: seconds between the wakeups of a busy reader (0: none; see the module's docstring).
    """

    def __init__(self, tick: float = 0.0) -> None:
        self.tick = resolve_read_tick(tick)
        self._epoll = select.epoll()
        self._buffer = bytearray(READ_SIZE)
        self._buffers = [self._buffer]
        self._view = memoryview(self._buffer)
        """What each read fills; a connection is fed a view of the part it read."""
        self._parked: dict[int, _Connection] = {}
        """Sockets whose task waits in ``wait``: the reader serves them."""
        self._armed: set[int] = set()
        """Sockets in the epoll set (parked, or busy and not yet seen ready)."""
        self.wakeups = 0
        """Times the reader woke."""
        self.reads = 0
        """Reads it made."""
        self.handovers = 0
        """Reads after which a session's task had to take over (the rest needed no task)."""
        self.ticker = ""
        """What paces the read tick once the reader runs with one (``ticker.py``): the
        class's name, for tests and benchmarks."""

    async def run(self) -> None:
        """Serve ready sockets until cancelled."""
        epoll = self._epoll
        fileno, poll = epoll.fileno(), epoll.poll
        wait_readable = trio.lowlevel.wait_readable
        try:
            if self.tick:
                await self._run_ticking()
            while True:
                await wait_readable(fileno)
                self._serve_ready(poll(0, MAX_READY))
        finally:
            trio.lowlevel.notify_closing(fileno)
            epoll.close()

    async def _run_ticking(self) -> None:
        poll, fileno = self._epoll.poll, self._epoll.fileno()
        wait_readable, checkpoint = trio.lowlevel.wait_readable, trio.lowlevel.checkpoint
        ticker = make_ticker(self.tick)
        self.ticker = type(ticker).__name__
        try:
            while True:
                # Whatever turned ready during the tick, without trio's wait (and its
                # epoll_ctl); only an idle reader waits for readiness, and then reads at
                # once: its next pass comes a whole tick later.
                ready = poll(0, MAX_READY)
                if not ready:
                    await wait_readable(fileno)
                    ticker.restart()
                    ready = poll(0, MAX_READY)
                self._serve_ready(ready)
                if len(ready) < MAX_READY:
                    await ticker.wait()
                else:  # more are ready: the next wakeup comes at once, after the other tasks
                    await checkpoint()
        finally:
            ticker.close()

    def _serve_ready(self, ready: list[tuple[int, int]]) -> None:
        """Serve every socket of one wakeup.

        Each is read once and its bytes fed to its connection (``absorb``); written out in
        one loop, as this runs for nearly every frame a client sends.
        """
        self.wakeups += 1
        now = trio.current_time()
        parked, buffers, view, readv = self._parked, self._buffers, self._view, os.readv
        reads = 0
        for fd, _ in ready:
            connection = parked.get(fd)
            if connection is None:
                # Its task is busy (writing to a slow client, pacing pings): not read until it
                # waits again, so the kernel's buffers fill and TCP holds the client back.
                self._disarm(fd)
                continue
            try:
                # Into the reader's one buffer: ``os.read`` would allocate READ_SIZE bytes for
                # every read of a 1.3 kB append, then shrink them (a quarter of the read's
                # cost). The connection copies what it keeps (``absorb``) before the next read.
                size = readv(fd, buffers)
            except BlockingIOError:
                continue  # woken without data
            except OSError:
                size = 0  # a reset reads as the end, as on the per-task path
            reads += 1
            result: outcome.Outcome[None]
            try:
                if connection.absorb(view[:size], now):
                    continue
                result = outcome.Value(None)
            except Exception as exc:  # this connection's failure, raised in its own task
                result = outcome.Error(exc)
            self._hand_over(fd, connection, result)
        self.reads += reads

    def _hand_over(self, fd: int, connection: _Connection, result: outcome.Outcome[None]) -> None:
        """Wake ``connection``'s task with ``result``: it goes on where ``absorb`` left off."""
        task = connection.parked_task
        if task is None:
            # Cancelled meanwhile (its scope was cancelled from inside the step): the task
            # takes over anyway, through its cancellation, and goes on where this stopped.
            return
        del self._parked[fd]
        connection.parked_task = None
        self.handovers += 1
        trio.lowlevel.reschedule(task, result)

    async def wait(self, connection: _Connection) -> None:
        """Park ``connection``'s task until the reader has fed it bytes that need the task.

        Cancellation (a deadline, shutdown) unparks it; the socket stays in the
        epoll set until the reader sees it ready or the connection ends.
        """
        fd = connection.fd
        if fd not in self._armed:
            self._epoll.register(fd, select.EPOLLIN)
            self._armed.add(fd)
        self._parked[fd] = connection
        connection.parked_task = trio.lowlevel.current_task()

        def abort(_: object) -> trio.lowlevel.Abort:
            self._parked.pop(fd, None)
            connection.parked_task = None
            return trio.lowlevel.Abort.SUCCEEDED

        await trio.lowlevel.wait_task_rescheduled(abort)

    def forget(self, connection: _Connection) -> None:
        """The connection's session is over: its socket leaves the epoll set before it closes."""
        fd = connection.fd
        if self._parked.get(fd) is connection:
            del self._parked[fd]
        self._disarm(fd)

    def _disarm(self, fd: int) -> None:
        if fd in self._armed:
            self._armed.discard(fd)
            try:
                self._epoll.unregister(fd)
            except (OSError, ValueError):
                pass  # already closed: the kernel dropped it from the set
