"""What every part of a ``ServerSession`` may read, and how each emits.

``ServerSession`` is its table of client events plus parts with narrow
interfaces - the input audio buffer (``buffer``), conversation items
(``items``), responses (``requests``, written by ``responses``), MCP listings
(``mcp_listings``), transcriptions (``transcriptions``) and what the session
holds in memory (``memory``). No part sees the session. Each is given in its
constructor exactly what it may read and do: a ``SessionView`` (the
configuration and the snapshot, read-only), an ``Emit`` callable, the id
factory, the limits, the dialect's edge, and the few other parts it calls.

The session's ``Record`` holds the configuration in the neutral vocabulary
(``SessionState``), the snapshot folded from every emitted event, and the
queue of events to send. Three rules live here: every emitted event is folded
into the server's own snapshot with the client's transition function (so an
inconsistent event is a bug caught at once, never sent); an error is one
``error`` event naming the offending client event; and an id the server mints
is never one already in use (``FreshIds``): a client chooses the ids of the
items and function calls it creates, and may well choose the very id the
factory would have returned next (``item_1`` under ``SequentialIds``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from .. import events as ev
from ..errors import LocalProtocolError, RemoteProtocolError
from ..ids import DeterministicIds, IdFactory, SequentialIds
from ..state import Snapshot, apply
from ..state.session import SessionState
from .config import ServerLimits
from .costs import item_cost
from .settings import Invalid

__all__ = [
    "Emit",
    "HELD_ERROR_TEXT",
    "FreshIds",
    "Record",
    "ReportError",
    "SessionView",
    "TakenIds",
    "check_room",
    "full_message",
    "item_cost",
]

HELD_ERROR_TEXT = 1024
"""The characters of an error's message, ``param`` and ``event_id`` the server's snapshot keeps
(the client gets them whole): what a client's bad events make the session hold stays bounded
(``MAX_RECORDS`` errors of at most about 3 KB). Above GA's 512-character ``event_id``, so that
only an error quoting more than this differs from the client's record of it."""

Emit = Callable[[ev.ServerEvent], None]
"""How a part sends an event: folded into the snapshot, then queued for the client."""


class SessionView(Protocol):
    """What every part may read: the effective configuration and the snapshot."""

    @property
    def config(self) -> SessionState: ...

    @property
    def state(self) -> Snapshot: ...


class ReportError(Protocol):
    """How a part answers with an ``error`` event outside a client event's handling."""

    def __call__(
        self,
        code: str | None,
        message: str,
        param: str | None = None,
        event_id: str | None = None,
        kind: str = "invalid_request_error",
    ) -> None: ...


class Record:
    """The session's configuration, its snapshot, and the events it has not sent yet.

    Only the session writes ``config`` (after a successful update); ``state``
    changes only through ``emit``.
    """

    __slots__ = ("config", "state", "out", "_ids")

    def __init__(self, config: SessionState, state: Snapshot, ids: IdFactory) -> None:
        self.config = config
        self.state = state
        self.out: list[ev.ServerEvent] = []
        self._ids = ids

    def emit(self, event: ev.ServerEvent) -> None:
        try:
            self.state = apply(self.state, event)
        except RemoteProtocolError as exc:  # pragma: no cover - a bug in the engine
            raise LocalProtocolError(f"the server built an inconsistent event: {exc}") from exc
        self.out.append(event)

    def error(
        self,
        code: str | None,
        message: str,
        param: str | None = None,
        event_id: str | None = None,
        kind: str = "invalid_request_error",
    ) -> None:
        details = ev.ErrorDetails(
            type=kind, code=code, message=message, param=param, event_id=event_id
        )
        event = ev.ErrorEvent(event_id=self._ids("event"), error=details)
        texts = (message, param or "", event_id or "")
        if max(map(len, texts)) <= HELD_ERROR_TEXT:
            self.emit(event)
            return
        # The client gets the whole error; the snapshot keeps (at most MAX_RECORDS of) them
        # with what echoes the client cut short: a beta event_id has no length limit, and a
        # message may quote a client's parameter name (docs/serve-security.md#bounded-sessions).
        held = ev.ErrorEvent(
            event_id=event.event_id,
            error=ev.ErrorDetails(
                type=kind,
                code=code,
                message=message[:HELD_ERROR_TEXT],
                param=None if param is None else param[:HELD_ERROR_TEXT],
                event_id=None if event_id is None else event_id[:HELD_ERROR_TEXT],
            ),
        )
        self.state = apply(self.state, held)
        self.out.append(event)


class FreshIds:
    """The session's id factory: the given one's ids, skipping any the session already uses.

    ``in_use(id)`` says whether an id is taken: an item's id (whatever its prefix: a client may
    name its item ``mcpl_1`` or ``call_2`` as well as ``item_1``) or a function call's
    ``call_id``. Each id skipped consumes one of the factory's, and the ids in use are finitely
    many, so the loop ends; with service-shaped random ids it never turns.
    """

    __slots__ = ("_factory", "_in_use")

    def __init__(self, factory: IdFactory, in_use: Callable[[str], bool]) -> None:
        # The library's factories are called through their bound ``__call__``: calling the
        # instance goes through its type's call slot, a few hundred instructions more for
        # every id (a turn's end mints four). Any other callable is called as it is.
        self._factory: IdFactory = (
            factory.__call__ if isinstance(factory, (DeterministicIds, SequentialIds)) else factory
        )
        self._in_use = in_use

    def __call__(self, prefix: str) -> str:
        if prefix == "event":  # event ids are the server's alone: nothing to skip
            return self._factory(prefix)
        while True:
            fresh = self._factory(prefix)
            if not self._in_use(fresh):
                return fresh


class TakenIds:
    """Whether an id is taken: an item's id in ``record``'s snapshot or a function call's id in
    ``call_ids``. Given to ``FreshIds`` instead of a method of the session, so that the parts
    holding the id factory do not hold the session (no reference cycle)."""

    __slots__ = ("record", "call_ids")

    def __init__(self) -> None:
        self.record: Record | None = None
        self.call_ids: set[str] = set()

    def __call__(self, candidate: str) -> bool:
        record = self.record
        if record is not None and record.state.item(candidate) is not None:
            return True
        return candidate in self.call_ids


def full_message(limits: ServerLimits) -> str:
    return f"The conversation holds the maximum of {limits.max_items} items; delete some first."


def check_room(state: Snapshot, limits: ServerLimits) -> None:
    """Refuse a client's request that would add an item to a full conversation."""
    if len(state.order) >= limits.max_items:
        raise Invalid("conversation_full", full_message(limits))
