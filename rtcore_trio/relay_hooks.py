"""The hook API of ``RelayServer``: what a hook is given (``RelayContext``) and its signatures.

A hook sees one event and returns it, another one in its place, or ``None`` to
drop it. Both hooks see events in the upstream's dialect, whatever the client
speaks, so that an app's rewrite is written once; the context has both
snapshots: the client's view and the relay's view of the upstream.
"""

from __future__ import annotations

from collections.abc import Callable

from rtcore import events as ev
from rtcore.client import ClientSession
from rtcore.state import Snapshot
from rtcore.translate import Translator

from .client import RealtimeClient

__all__ = ["ClientHook", "RelayContext", "ServerHook"]


class RelayContext:
    """What a hook knows about its connection: the peer, the dialects and both snapshots.

    ``downstream`` is the client's view (the mirror session's snapshot, in the
    client's dialect), ``upstream`` the relay's own client session's snapshot
    of the upstream server. ``translator`` has the loss counts so far.
    """

    def __init__(
        self, peer: str, mirror: ClientSession, upstream: RealtimeClient, translator: Translator
    ) -> None:
        self.peer = peer
        self.translator = translator
        self._mirror = mirror
        self._upstream = upstream

    @property
    def client_dialect(self) -> ev.Dialect:
        return self.translator.client

    @property
    def upstream_dialect(self) -> ev.Dialect:
        return self.translator.server

    @property
    def downstream(self) -> Snapshot:
        return self._mirror.state

    @property
    def upstream(self) -> Snapshot:
        return self._upstream.state


ClientHook = Callable[[ev.ClientEvent, RelayContext], "ev.ClientEvent | None"]
"""Sees each client event (in the upstream's dialect) before it goes up; returns it, another, or ``None`` to drop it."""
ServerHook = Callable[
    [ev.ServerEvent | ev.UnknownEvent, RelayContext], "ev.ServerEvent | ev.UnknownEvent | None"
]
"""Sees each upstream server event before translation; returns it, another, or ``None`` to drop it."""
