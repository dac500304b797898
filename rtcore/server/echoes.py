"""What a session sends back of what its client already has: the echo budget.

The service answers every ``session.update`` with the whole session (``session.updated``)
and ``conversation.item.retrieve`` with the whole item: a client that set 15 MiB of
instructions once could ask for 15 MiB of output with each 59-byte update. The echo is
kept (clients rely on it), but counted: each one costs what it carries, at the size the
session is charged for it (``costs``: the configuration the client set, the item, its
held audio in base64), against a token bucket per session that holds at most
``ServerLimits.max_session_bytes`` (the session's budget: the largest echo there can be)
and fills at ``ServerLimits.echo_bytes_per_second``. An echo that does not fit is
refused before anything changes: the update is not applied (or the item not sent), and
the client gets ``echo_rate_exceeded``; it may ask again once the bucket has refilled.
What a session's defaults echo is free: a client that sets nothing large never meets it.

Time comes from the ``clock`` the session was given (the adapter's, such as
``trio.current_time``); a session without one never refills, so its echoes are bounded
by the budget alone.
"""

from __future__ import annotations

from collections.abc import Callable

from ..rules.refusal import Invalid

__all__ = ["Echoes"]


class Echoes:
    """The session's token bucket of echo bytes."""

    __slots__ = ("_rate", "_capacity", "_tokens", "_clock", "_at")

    def __init__(self, rate: int, capacity: int, clock: Callable[[], float] | None) -> None:
        self._rate = rate
        self._capacity = capacity
        self._tokens = float(capacity)
        self._clock = clock
        self._at = clock() if clock is not None else 0.0

    def _refill(self) -> float:
        clock = self._clock
        if clock is not None:
            now = clock()
            self._tokens = min(self._capacity, self._tokens + (now - self._at) * self._rate)
            self._at = now
        return self._tokens

    def check(self, size: int, what: str) -> None:
        """Refuse (``echo_rate_exceeded``) an echo of ``size`` bytes the bucket cannot pay."""
        if size > self._refill():
            wait = (size - self._tokens) / self._rate if self._clock is not None else None
            when = f" in {wait:.1f} s" if wait is not None and size <= self._capacity else ""
            raise Invalid(
                "echo_rate_exceeded",
                f"The session has sent too much of what it holds back to the client: "
                f"{what} would carry about {size} bytes, over this server's limit of "
                f"{self._rate} bytes per second of such echoes; try again{when}.",
            )

    def spend(self, size: int) -> None:
        """Count an echo that was sent (checked with ``check`` first)."""
        self._tokens -= size
