"""Rate-limited logging: a flood of bad clients must not become a flood of log lines.

A server logs per connection and per bad event. A client that opens a thousand
connections a second, or sends a thousand invalid events, would otherwise
write a thousand lines a second to the operator's disk. ``ThrottledLog``
passes at most ``lines`` lines of each *kind* (``"connection"``, ``"error"``,
``"failure"``, ...) per ``interval`` seconds and counts the rest; the next
line of that kind after the window ends says how many were suppressed.

No timer runs: the count is reported when the kind is next logged, so a quiet
server costs nothing. Time comes from a clock function (``time.monotonic`` by
default) so that tests can drive it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["ThrottledLog", "DEFAULT_LOG_LINES", "DEFAULT_LOG_INTERVAL"]

DEFAULT_LOG_LINES = 20
DEFAULT_LOG_INTERVAL = 10.0


@dataclass
class _Window:
    start: float
    lines: int = 0
    suppressed: int = 0


class ThrottledLog:
    """At most ``lines`` log lines per kind per ``interval`` seconds, with a count of the rest."""

    def __init__(
        self,
        logger: logging.Logger,
        lines: int = DEFAULT_LOG_LINES,
        interval: float = DEFAULT_LOG_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if lines < 1 or interval <= 0:
            raise ValueError("log throttling needs lines >= 1 and interval > 0")
        self.logger = logger
        self.lines = lines
        self.interval = interval
        self._clock = clock
        # One entry per kind: the kinds are a small fixed set chosen by the code, never by a peer.
        self._windows: dict[str, _Window] = {}

    def suppressed(self, kind: str) -> int:
        """Lines of ``kind`` suppressed in the current window (not yet reported)."""
        window = self._windows.get(kind)
        return window.suppressed if window is not None else 0

    def emit(
        self,
        kind: str,
        level: int,
        message: str,
        *args: object,
        exc_info: BaseException | None = None,
    ) -> bool:
        """Log one line of ``kind`` unless its budget is spent; returns whether it was logged."""
        if not self.logger.isEnabledFor(level):
            return False
        now = self._clock()
        window = self._windows.get(kind)
        if window is None or now - window.start >= self.interval:
            if window is not None and window.suppressed:
                self.logger.log(
                    level,
                    "(%d more %r lines suppressed in %.0f s)",
                    window.suppressed,
                    kind,
                    now - window.start,
                )
            window = self._windows[kind] = _Window(start=now)
        if window.lines >= self.lines:
            window.suppressed += 1
            return False
        window.lines += 1
        self.logger.log(level, message, *args, exc_info=exc_info)
        return True

    def note(self, kind: str, message: str, *args: object) -> bool:
        """An ``INFO`` line of ``kind``."""
        return self.emit(kind, logging.INFO, message, *args)
