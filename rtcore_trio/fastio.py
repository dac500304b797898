"""Reading and writing a plain TCP socket without trio's per-call overhead, when it is ready.

``SocketStream.send_all`` and ``receive_some`` each take two trips through
trio's scheduler (a checkpoint before, another after) and try the system
call optimistically; for the small messages of a relayed session (a 20 ms
audio append, one text delta) that is most of their cost. ``write_now``
writes what fits in the socket's buffer at once; ``receive`` waits until
the socket is readable and reads once. Other streams (TLS) take trio's
methods. A closed socket's descriptor reads -1 (its number may already
belong to another socket), so both check it on every call.
"""

from __future__ import annotations

import os

import trio

__all__ = ["READ_SIZE", "read_fd", "receive", "write_now"]

READ_SIZE = 65536
"""How much one read asks of a socket, in every adapter."""


def write_now(stream: trio.abc.Stream, data: bytes) -> bytes:
    """Write what fits in a plain TCP socket's buffer now, without waiting; what is left.

    A full buffer or an error leaves the bytes to the caller's ``send_all``,
    which waits for room or reports the error as trio does.
    """
    if not isinstance(stream, trio.SocketStream):
        return data
    fd = stream.socket.fileno()
    if fd < 0:
        return data
    try:
        sent = os.write(fd, data)
    except OSError:
        return data
    return data[sent:]


async def receive(stream: trio.abc.ReceiveStream) -> bytes:
    """The next bytes from ``stream`` (``b""`` at its end), as ``receive_some`` gives them.

    A closed stream raises ``trio.ClosedResourceError`` (closing it wakes the
    wait, as trio does for ``receive_some``); a reset connection reads as its end.
    """
    if isinstance(stream, trio.SocketStream):
        fd = stream.socket.fileno()
        if fd >= 0:
            return await read_fd(fd)
    return bytes(await stream.receive_some(READ_SIZE))


async def read_fd(fd: int) -> bytes:
    """The next bytes of an open socket's descriptor (``b""`` at its end or on a reset), read
    once it is readable: trio's scheduling without ``receive_some``'s per-call wrapper."""
    while True:
        await trio.lowlevel.wait_readable(fd)
        try:
            return os.read(fd, READ_SIZE)
        except BlockingIOError:
            continue  # woken without data: wait again
        except OSError:
            return b""
