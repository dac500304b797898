"""The two kinds of protocol error, as in h11 and wsproto.

``LocalProtocolError``: this side tried something the protocol forbids (sending
an event that contradicts the state, producing output for a finished
response); raised by ``send``-style methods, nothing is changed.

``RemoteProtocolError``: the peer did. A machine never raises it out of
``receive_*``; it is returned or recorded as a value, and the state stays as
it was before the offending input.
"""

from __future__ import annotations

__all__ = ["LocalProtocolError", "ProtocolError", "RemoteProtocolError"]


class ProtocolError(Exception):
    """Base of both protocol error kinds.

    ``code`` is the protocol's error code for the problem when there is one
    (``unknown_parameter``, ``invalid_value``, ...), ``param`` the dotted path
    of the offending field, ``event_id`` and ``event_type`` the event concerned.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        event_id: str | None = None,
        event_type: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param
        self.event_id = event_id
        self.event_type = event_type

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code!r})"

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and isinstance(other, ProtocolError)
            and self._key() == other._key()
        )

    def __hash__(self) -> int:
        return hash((type(self), *self._key()))

    def _key(self) -> tuple[str, str | None, str | None, str | None, str | None]:
        return (self.message, self.code, self.param, self.event_id, self.event_type)


class LocalProtocolError(ProtocolError):
    """This side tried to do something the protocol forbids."""


class RemoteProtocolError(ProtocolError):
    """The peer did something the protocol forbids."""
