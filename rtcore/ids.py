"""Injectable id factories.

The core never draws random numbers: every id it mints (server event ids,
item, response, call and session ids, client event ids) comes from an
``IdFactory`` - any callable taking a prefix (``"event"``, ``"item"``,
``"resp"``, ``"call"``, ``"sess"``, ``"conv"``) and returning a fresh id.

``DeterministicIds`` is the default: ids look like the service's own
(``event_`` + 21 alphanumerics, ``call_`` + 16) but are derived from a seed
and a counter with BLAKE2b, so the same seed gives the same ids - tests and
replays are byte-for-byte reproducible. Adapters that need ids unique across
processes pass a seed drawn from the operating system.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, Final, TypeAlias

__all__ = ["IdFactory", "DeterministicIds", "SequentialIds"]

IdFactory: TypeAlias = Callable[[str], str]
"""``factory(prefix) -> id``; must never return the same id twice for a prefix."""

_ALPHABET: Final = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# Byte -> alphanumeric character; the slight bias of ``b % 62`` does not matter for ids.
_TO_ALNUM: Final = bytes(_ALPHABET[b % 62] for b in range(256))
_LENGTHS: Final = {"call": 16}
_MAX_STARTED: Final = 32
"""Prefixes whose started hasher a ``DeterministicIds`` keeps (the core uses six)."""


class DeterministicIds:
    """Service-shaped ids from a seed and a counter (``event_BaU74gazRYNO8gV1WlPvK`` style).

    The id of ``prefix`` number ``n`` is the keyed BLAKE2b of ``b"prefix/n"``. A hasher
    already keyed and fed ``b"prefix/"`` is kept per prefix (a handful: the core mints six
    kinds), and each id copies it and adds only the counter: the same digest as hashing the
    whole message afresh, without building the key block and hashing it again for every id.
    At most ``_MAX_STARTED`` prefixes are kept; ids of further prefixes are hashed afresh.
    """

    __slots__ = ("_seed", "_counter", "_started")

    def __init__(self, seed: bytes | str = b"rtcore") -> None:
        self._seed = seed.encode() if isinstance(seed, str) else bytes(seed)
        self._counter = 0
        self._started: dict[str, tuple[Any, str]] = {}
        """prefix -> (keyed hasher fed ``prefix/``, ``prefix_``); ``hashlib`` names no type
        for the hasher."""

    def __call__(self, prefix: str) -> str:
        self._counter += 1
        started = self._started.get(prefix)
        if started is None:
            hasher = hashlib.blake2b(
                prefix.encode() + b"/", digest_size=_LENGTHS.get(prefix, 21), key=self._seed[:64]
            )
            started = (hasher, prefix + "_")
            if len(self._started) < _MAX_STARTED:
                self._started[prefix] = started
        hasher = started[0].copy()
        hasher.update(b"%d" % self._counter)
        return started[1] + hasher.digest().translate(_TO_ALNUM).decode()


class SequentialIds:
    """Readable ids for tests and examples: ``event_1``, ``item_2``, ... (one counter per prefix)."""

    __slots__ = ("_counters",)

    def __init__(self) -> None:
        self._counters: dict[str, int] = {}

    def __call__(self, prefix: str) -> str:
        n = self._counters.get(prefix, 0) + 1
        self._counters[prefix] = n
        return f"{prefix}_{n}"
