"""How ``rtcore loadtest`` moves one session's bytes: a plain TCP socket or TLS (``wss://``).

A load generator writes from a timer (paced audio) that must not wait on any
one session, so both links offer ``send_now(data)``: it hands ``data`` over
without waiting and says ``False`` only when the session's earlier bytes are
still stuck (the caller then drops an audio frame, or ``await write(data)``).

* ``PlainLink`` writes with ``os.write`` on the non-blocking socket and reads
  with ``os.read`` when it is readable: trio's stream wrapper costs more than
  a load generator can afford (``benchmarks/bench_e2e.py`` measured it). When
  the kernel takes only part of a write, the rest goes out from a task of its
  own, ahead of anything written later.
* ``TlsLink`` wraps trio's ``SSLStream``: writes are queued (up to
  ``TLS_QUEUE`` bytes) and sent by one writer task, reads are ``receive_some``.

``receive()`` returns ``b""`` at the end of the connection, however it ended.

Reading a thousand plain sockets with a task each costs a task switch and
trio's registration of the socket for every read. Where the system has
``epoll`` (Linux), a ``Poller`` reads them all instead: one task waits on
one epoll set that holds every socket for the whole run, and hands each
socket's bytes to its session as they come, many sockets per wakeup.
"""

from __future__ import annotations

import os
import select
import ssl
from abc import ABC, abstractmethod
from collections.abc import Callable

import trio

__all__ = ["Link", "PlainLink", "TlsLink", "Poller", "open_link", "write_fd", "TLS_QUEUE"]

TLS_QUEUE = 1 << 20
"""Bytes a TLS session may have waiting to be sent before ``send_now`` refuses more."""
_READ = 65536


async def write_fd(fd: int, data: bytes) -> None:
    """Write ``data`` to a non-blocking socket, waiting only when the kernel's buffer is full."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            await trio.lowlevel.wait_writable(fd)


class Link(ABC):
    """One session's connection, opened; see the module's docstring."""

    def __init__(self, stream: trio.abc.Stream, nursery: trio.Nursery) -> None:
        self.stream = stream
        self.nursery = nursery
        self._busy = False  # earlier bytes are still on their way
        self._idle = trio.Event()

    @abstractmethod
    def send_now(self, data: bytes) -> bool:
        """Hand ``data`` over without waiting; False while earlier bytes are stuck."""

    @abstractmethod
    async def receive(self) -> bytes:
        """The next bytes from the server; ``b""`` at the end of the connection."""

    async def write(self, data: bytes) -> None:
        """Send ``data``, after whatever is still on its way."""
        while not self.send_now(data):
            await self._idle.wait()

    def _done(self) -> None:
        self._busy = False
        self._idle.set()
        self._idle = trio.Event()

    async def aclose(self) -> None:
        await trio.aclose_forcefully(self.stream)


class PlainLink(Link):
    def __init__(self, stream: trio.SocketStream, nursery: trio.Nursery) -> None:
        super().__init__(stream, nursery)
        self.fd = stream.socket.fileno()

    def send_now(self, data: bytes) -> bool:
        if self._busy:
            return False
        try:
            sent = os.write(self.fd, data)
        except BlockingIOError:
            sent = 0
        except OSError:
            return True  # the reader sees the end of the connection
        if sent < len(data):
            self._busy = True
            self.nursery.start_soon(self._finish, data[sent:])
        return True

    async def _finish(self, rest: bytes) -> None:
        try:
            await write_fd(self.fd, rest)
        except OSError:
            pass  # the reader sees the end of the connection
        finally:
            self._done()

    async def receive(self) -> bytes:
        while True:
            try:
                await trio.lowlevel.wait_readable(self.fd)
                return os.read(self.fd, _READ)
            except BlockingIOError:
                continue
            except (OSError, trio.ClosedResourceError):
                return b""


class TlsLink(Link):
    def __init__(self, stream: trio.SSLStream[trio.SocketStream], nursery: trio.Nursery) -> None:
        super().__init__(stream, nursery)
        self.tls = stream
        self._queue = bytearray()
        self._wake = trio.Event()
        nursery.start_soon(self._writer)

    def send_now(self, data: bytes) -> bool:
        if len(self._queue) >= TLS_QUEUE:
            self._busy = True
            return False
        self._queue += data
        self._wake.set()
        return True

    async def _writer(self) -> None:
        while True:
            await self._wake.wait()
            self._wake = trio.Event()
            while self._queue:
                data, self._queue = bytes(self._queue), bytearray()
                try:
                    await self.tls.send_all(data)
                except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                    return  # the reader sees the end of the connection
            if self._busy:
                self._done()

    async def receive(self) -> bytes:
        try:
            return bytes(await self.tls.receive_some(_READ))
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            return b""


async def open_link(
    host: str, port: int, secure: bool, nursery: trio.Nursery, context: ssl.SSLContext | None
) -> Link:
    """Connect; raises ``OSError`` when nobody answers."""
    if secure:
        tls = await trio.open_ssl_over_tcp_stream(
            host, port, ssl_context=context or ssl.create_default_context()
        )
        return TlsLink(tls, nursery)
    return PlainLink(await trio.open_tcp_stream(host, port), nursery)


class Poller:
    """Reads many plain links from one task: their sockets in one epoll set (Linux only).

    ``add(link, received)`` calls ``received(data)`` with whatever the
    socket's next read gives, ``b""`` once at its end (then the link is
    dropped from the set); ``discard(link)`` stops reading it earlier.
    """

    available = hasattr(select, "epoll")

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._readers: dict[int, Callable[[bytes], None]] = {}

    def add(self, link: PlainLink, received: Callable[[bytes], None]) -> None:
        self._readers[link.fd] = received
        self._epoll.register(link.fd, select.EPOLLIN)

    def discard(self, link: PlainLink) -> None:
        if self._readers.pop(link.fd, None) is not None:
            self._epoll.unregister(link.fd)

    async def run(self) -> None:
        """Read until cancelled; the set is closed then."""
        readers, epoll = self._readers, self._epoll
        try:
            while True:
                await trio.lowlevel.wait_readable(epoll.fileno())
                for fd, _ in epoll.poll(0):
                    received = readers.get(fd)
                    if received is None:
                        continue
                    try:
                        data = os.read(fd, _READ)
                    except BlockingIOError:
                        continue
                    except OSError:
                        data = b""
                    if not data:
                        del readers[fd]
                        epoll.unregister(fd)
                    received(data)
        finally:
            epoll.close()
