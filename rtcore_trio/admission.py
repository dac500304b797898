"""The count of admitted connections that every endpoint of the trio adapter admits by.

``rtcore serve`` (and its relay and cassette playback) and the ASGI application
admit each client through one ``Admission``: at most ``max_connections`` at
once and, when set, at most ``max_connections_per_client`` from one address;
a client beyond either, or arriving while the server shuts down, is turned
away (HTTP 503) with the reason ``enter`` returns, and is not counted.
The API keys a client may present (``ApiKeys``) are checked in one place too.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection

__all__ = ["Admission", "ApiKeys"]


class Admission:
    """Connections admitted and open right now, in total and per client address."""

    def __init__(self) -> None:
        self.open = 0
        self._by_host: dict[str, int] = {}

    def enter(
        self, host: str, limit: int, per_client: int | None, closing: bool = False
    ) -> str | None:
        """Count a new client from ``host``, or say why it is turned away (it is not counted)."""
        if self.open >= limit or closing:
            return f"The server is at its limit of {limit} connections; try again later."
        if per_client is not None and self._by_host.get(host, 0) >= per_client:
            return f"Your address has {per_client} connections open, the most this server allows."
        self.open += 1
        self._by_host[host] = self._by_host.get(host, 0) + 1
        return None

    def leave(self, host: str) -> int:
        """An admitted client from ``host`` has gone; the connections still open."""
        self.open -= 1
        left = self._by_host.pop(host) - 1
        if left:
            self._by_host[host] = left
        return self.open


class ApiKeys:
    """The keys a server accepts, compared in constant time.

    Keys are kept and compared as SHA-256 digests, each with ``hmac.compare_digest``
    and every one of them every time: neither which key matched nor how much of a
    wrong key did shows in the time a refusal takes.
    """

    __slots__ = ("_digests",)

    def __init__(self, keys: Collection[str]) -> None:
        self._digests = tuple(_digest(key) for key in keys)

    def match(self, key: str) -> bool:
        """Whether ``key`` is one of the accepted keys."""
        digest = _digest(key)
        matched = False
        for expected in self._digests:
            matched |= hmac.compare_digest(digest, expected)
        return matched


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()
