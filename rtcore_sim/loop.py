"""What the simulated models need from the event loop (trio), and nothing more.

Every session shares one event loop, so a backend must stream: make each
chunk when it is sent, reach a checkpoint between chunks, and push any
CPU-heavy step (a model, a codec, a big table) to a worker thread. This
module holds the worker threads: ``run_off_loop`` (a bounded pool, for any
backend; ``rtcore_trio`` re-exports it) and ``load_voice`` (the synthetic
voice, built there the first time). The checkpoint after each chunk is one
``trio.sleep(Output.pause_after(chunk))`` in the backend itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import trio

from rtcore import events as ev

from .speech import Voice, cached_voice, voice

__all__ = ["BACKEND_THREADS", "run_off_loop", "load_voice"]

T = TypeVar("T")

BACKEND_THREADS = 4
"""Worker threads ``run_off_loop`` uses at once (per trio run); further calls wait their turn."""

_limiter: trio.lowlevel.RunVar[trio.CapacityLimiter] = trio.lowlevel.RunVar(
    "rtcore_backend_threads"
)


def _backend_limiter() -> trio.CapacityLimiter:
    try:
        return _limiter.get()
    except LookupError:
        limiter = trio.CapacityLimiter(BACKEND_THREADS)
        _limiter.set(limiter)
        return limiter


async def run_off_loop(
    fn: Callable[..., T], *args: Any, limiter: trio.CapacityLimiter | None = None
) -> T:
    """``fn(*args)`` in a worker thread, so that every other session runs on meanwhile.

    For CPU-heavy steps of a backend (a model, a big codec or table, parsing a
    large document). At most ``BACKEND_THREADS`` calls run at once (or as many
    as ``limiter`` allows), so a flood of responses queues instead of starting
    threads without bound. A cancelled caller (a cancelled response) returns
    at once; the thread finishes in the background, its result is dropped,
    and its slot is freed only then, so abandoned work still counts against
    the limit. ``fn`` must not touch trio objects.
    """
    if limiter is None:
        limiter = _backend_limiter()
    return await trio.to_thread.run_sync(fn, *args, abandon_on_cancel=True, limiter=limiter)


async def load_voice(fmt: ev.AudioFormat, ms_per_char: int) -> Voice:
    """The synthetic voice, built in a worker thread the first time (up to ~10 ms at 1 s per char)."""
    found = cached_voice(fmt, ms_per_char)
    if found is None:
        found = await run_off_loop(voice, fmt, ms_per_char)
    return found
