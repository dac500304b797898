"""Exceptions of the trio adapter."""

from __future__ import annotations

__all__ = ["HandshakeError", "ConnectionClosedError"]


class HandshakeError(Exception):
    """The WebSocket connection could not be opened.

    ``status_code`` and ``body`` are the server's HTTP answer when it rejected
    the handshake (401 for a bad key, 404 for a wrong path, ...); ``None`` and
    ``b""`` when the handshake failed otherwise (malformed response, timeout).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        body: bytes = b"",
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body
        self.headers = headers


class ConnectionClosedError(Exception):
    """The connection ended abnormally, or was used after it ended.

    ``code`` is the WebSocket close code (1006 when the transport broke
    without a close handshake) and ``reason`` its reason.
    """

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(
            f"connection closed ({code}): {reason}" if reason else f"connection closed ({code})"
        )
        self.code = code
        self.reason = reason
