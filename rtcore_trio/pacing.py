"""Pings paced per connection: a ping flood costs the flooder, not everyone.

A client may send ``PINGS_PER_SECOND`` pings a second on average, a burst of as many for free.
Beyond, ``PingPacer.wait`` says how long its connection is not read (so its own pings wait in
the kernel, and no CPU goes to it meanwhile); a client so far beyond that the wait would pass
``PING_FLOOD_SECONDS`` is flooding, and its session ends (1008). Time is the caller's (trio's
clock), so this is plain arithmetic. The rate is the wire's (``rtcore.wire.framing``), which
also closes a connection whose one read holds more pings than any but a flood.
"""

from __future__ import annotations

from rtcore.wire.framing import PING_FLOOD_SECONDS, PINGS_PER_SECOND

__all__ = ["PINGS_PER_SECOND", "PING_FLOOD_SECONDS", "PingPacer"]


class PingPacer:
    """The pings one connection has sent, as a schedule: each takes ``1 / PINGS_PER_SECOND`` s."""

    __slots__ = ("seen", "_clock")

    def __init__(self, now: float) -> None:
        self.seen = 0
        """Pings counted so far."""
        self._clock = now

    def wait(self, pings: int, now: float) -> float:
        """How long to leave the connection unread, now that it has sent ``pings`` in all."""
        new, self.seen = pings - self.seen, pings
        # A burst of PINGS_PER_SECOND is free: the schedule never lags more than a second.
        self._clock = max(self._clock, now - 1.0) + new / PINGS_PER_SECOND
        return self._clock - now
