"""``rtcore serve --workers N``: N server processes sharing one listening port, and their parent.

A session's state never leaves the process that accepted its connection, so
the workers share nothing but the port: each is a whole ``RealtimeServer``
(made afresh in the worker by the factory it is given, with its own id seed,
limits and logs), and the kernel hands each new connection to one of them.

How the port is shared (``share``):

* ``reuseport`` (the default on Linux): every worker binds its own listening
  socket with ``SO_REUSEPORT`` and the kernel balances new connections over
  them (by a hash of the client's address and port). The parent binds the
  port first, without listening, so that a port in use is reported once and
  ``--port 0`` picks one port for all.
* ``inherit`` (the default elsewhere: ``SO_REUSEPORT`` is missing on
  Windows, and on macOS and the BSDs it does not balance): the parent binds
  and listens, and the workers accept on the socket they inherit. Every
  worker waits on the one queue and whichever accepts first takes the
  connection; each waits for readiness again before its next accept, so that
  the one that took the first of a burst does not take them all. The spread
  is less even than the kernel's.

Bounds: ``--max-connections`` (and every other limit) holds per worker, so
the machine admits up to N times as many connections and N times the memory
budget; a worker's descriptors are its own.

The parent's jobs, and only these: start the workers (``fork``: POSIX only),
forward SIGTERM or SIGINT to every worker (each then ends its sessions as a
single server does: open responses get ``response.done``, every session a
close frame 1001, every backend task is cancelled, within the close and
write timeouts), kill a worker still running ``SHUTDOWN_GRACE`` seconds after
that, and replace a worker that dies (the log says which, how, and its
replacement's pid). A worker that dies within ``RESTART_MIN_SECONDS`` of its
start is not replaced: something is wrong with every start (a backend that
cannot load, a port taken), so the parent stops the others and exits with
status 1 rather than loop.
"""

from __future__ import annotations

import argparse
import errno
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any, Literal

import trio

from .server import RealtimeServer

__all__ = [
    "RESTART_MIN_SECONDS",
    "SHUTDOWN_GRACE",
    "add_worker_options",
    "bind_sockets",
    "default_share",
    "run_workers",
    "worker_count",
]

log = logging.getLogger("rtcore.workers")

Share = Literal["reuseport", "inherit"]
SHUTDOWN_GRACE = 5.0
"""Seconds a worker has, beyond the close and write timeouts, to end after SIGTERM; then SIGKILL."""
RESTART_MIN_SECONDS = 1.0
"""A worker that dies sooner than this after its start is not replaced: the parent exits (1)."""
BACKLOG = 1024
"""The listening queue of each socket (``socket.listen``)."""
# Errors of one queued connection, not of the listener (trio's SocketListener skips these too).
_GONE_BEFORE_ACCEPT = frozenset(
    getattr(errno, name)
    for name in ("ECONNABORTED", "EPERM", "EPROTO", "ENETDOWN", "ENOPROTOOPT", "EHOSTDOWN")
    + ("ENONET", "EHOSTUNREACH", "EOPNOTSUPP", "ENETUNREACH")
    if hasattr(errno, name)
)
_POLL = 0.2  # how often the parent looks at its flags between worker deaths (signals set them)


def worker_count(text: str) -> int:
    """``--workers``: a positive number, or ``auto`` for the cores this process may run on."""
    if text == "auto":
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # not on Linux
            return os.cpu_count() or 1
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'auto', not {text!r}") from None
    if count < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1 worker, not {count}")
    return count


def default_share() -> Share:
    """``reuseport`` where the kernel balances ``SO_REUSEPORT`` sockets (Linux), else ``inherit``."""
    if sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT"):
        return "reuseport"
    return "inherit"


def add_worker_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--workers`` and ``--share-port`` to ``rtcore serve``."""
    group = parser.add_argument_group("processes")
    group.add_argument(
        "--workers",
        type=worker_count,
        default=1,
        metavar="N",
        help="server processes sharing the port, each with its own sessions and with every "
        "limit (--max-connections too) per process; 'auto': one per core this process may use. "
        "SIGTERM or SIGINT ends every session (close 1001); a worker that dies is replaced "
        "(default: 1)",
    )
    group.add_argument(
        "--share-port",
        choices=("auto", "reuseport", "inherit"),
        default="auto",
        help="with --workers: reuseport (each worker listens with SO_REUSEPORT, the kernel "
        "balances connections; Linux) or inherit (the parent listens, the workers accept on "
        "the inherited socket); auto picks reuseport on Linux (default: auto)",
    )


def bind_sockets(host: str | None, port: int, *, reuse_port: bool) -> list[socket.socket]:
    """Bound TCP sockets (not listening) on every address of ``host``, all on one port.

    As ``trio.open_tcp_listeners`` binds: every address ``getaddrinfo`` gives for a
    passive socket, IPv6 ones IPv6-only. With ``port`` 0 the first socket's port is
    used for the others too, so that every worker and address shares one port.
    """
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in infos:
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if port == 0 and len(sockets) > 1:
                address = (address[0], sockets[0].getsockname()[1], *address[2:])
            sock.bind(address)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


class _Worker:
    """One worker process: which it is, when it started."""

    def __init__(self, index: int, process: multiprocessing.process.BaseProcess) -> None:
        self.index = index
        self.process = process
        self.started = time.monotonic()


def _how_it_ended(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit status {code}"


def _worker_main(
    make_server: Callable[[], RealtimeServer],
    host: str,
    port: int,
    inherited: Sequence[socket.socket],
) -> None:
    """A worker's life: its own listening sockets (or the inherited ones), a server, its signals."""
    # The parent's signal handlers came with the fork: until trio's receiver is installed,
    # a signal ends this worker (it has no session yet).
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    sockets = list(inherited)
    shared = bool(sockets)
    if not shared:
        sockets = bind_sockets(host, port, reuse_port=True)
        for sock in sockets:
            sock.listen(BACKLOG)
    server = make_server()
    trio.run(_serve_until_signalled, server, sockets, shared)


class _TakingTurns(trio.abc.Listener[trio.SocketStream]):
    """A listener on a socket the workers share (``inherit``): it waits for a connection before
    each accept, instead of accepting again at once, so that a worker that has just taken one
    does not take every connection of a burst while the others are still waking up."""

    def __init__(self, sock: socket.socket) -> None:
        self.socket = trio.socket.from_stdlib_socket(sock)

    async def accept(self) -> trio.SocketStream:
        while True:
            await trio.lowlevel.wait_readable(self.socket)
            await trio.sleep(0)  # every other woken worker gets its chance first
            try:
                client, _ = self.socket._sock.accept()  # type: ignore[attr-defined]
            except BlockingIOError:
                continue  # another worker took it
            except OSError as exc:
                if exc.errno in _GONE_BEFORE_ACCEPT:
                    continue  # the client left while queued (as trio's own listener does)
                raise
            return trio.SocketStream(trio.socket.from_stdlib_socket(client))

    async def aclose(self) -> None:
        self.socket.close()
        await trio.lowlevel.checkpoint()


async def _serve_until_signalled(
    server: RealtimeServer, sockets: Sequence[socket.socket], shared: bool
) -> None:
    """Serve; SIGTERM or SIGINT ends every session gracefully. The receiver stays installed
    until the server has ended, so that a second signal (a terminal's SIGINT reaches the
    workers too, beside the parent's SIGTERM) cannot cut the shutdown short."""
    # Any: the server reads a listener's ``socket`` and accepts; _TakingTurns has both, but
    # trio's SocketListener, the type the server names, cannot be subclassed.
    listeners: list[Any] = [
        _TakingTurns(sock) if shared else trio.SocketListener(trio.socket.from_stdlib_socket(sock))
        for sock in sockets
    ]
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        async with trio.open_nursery() as nursery:

            async def watch() -> None:
                async for _ in signals:
                    server.shutdown()

            nursery.start_soon(watch)
            await server.serve(listeners=listeners)
            nursery.cancel_scope.cancel()


def run_workers(
    make_server: Callable[[], RealtimeServer],
    host: str,
    port: int,
    workers: int,
    *,
    share: Share | Literal["auto"] = "auto",
    stop_timeout: float = SHUTDOWN_GRACE,
) -> int:
    """Run ``workers`` processes of ``make_server()`` on one port until SIGTERM or SIGINT.

    Returns the exit status: 0 after a shutdown, 1 when a worker died at its start.
    ``stop_timeout`` is how long the workers have to end their sessions after the
    signal (the server's close and write timeouts) before ``SHUTDOWN_GRACE`` more and
    SIGKILL. Raises ``OSError`` when the port cannot be bound.
    """
    if share == "auto":
        share = default_share()
    if share == "reuseport" and not hasattr(socket, "SO_REUSEPORT"):
        raise OSError(f"SO_REUSEPORT is not available on {sys.platform}; use --share-port inherit")
    context = multiprocessing.get_context("fork")  # the workers inherit the factory and sockets
    held = bind_sockets(host, port, reuse_port=share == "reuseport")
    bound = held[0].getsockname()[1]
    inherited: list[socket.socket] = []
    if share == "inherit":
        for sock in held:
            sock.listen(BACKLOG)
        inherited = held
    stopping: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.append(signum)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}

    def start(index: int) -> _Worker:
        process = context.Process(
            target=_worker_main,
            args=(make_server, host, bound, inherited),
            name=f"rtcore-worker-{index}",
        )
        process.start()
        log.info("worker %d started (pid %s)", index, process.pid)
        return _Worker(index, process)

    status = 0
    running: list[_Worker] = []
    try:
        running = [start(index) for index in range(1, workers + 1)]
        log.info("%d workers on port %d, sharing it by %s", workers, bound, share)
        while not stopping:
            sentinels = [worker.process.sentinel for worker in running]
            ended = multiprocessing.connection.wait(sentinels, timeout=_POLL)
            for worker in [w for w in running if w.process.sentinel in ended]:
                worker.process.join()
                how = _how_it_ended(worker.process.exitcode)
                lived = time.monotonic() - worker.started
                if lived < RESTART_MIN_SECONDS:
                    log.error(
                        "worker %d (pid %s) died %.1f s after its start (%s); stopping",
                        worker.index,
                        worker.process.pid,
                        lived,
                        how,
                    )
                    status = 1
                    stopping.append(0)
                    running.remove(worker)
                    continue
                replacement = start(worker.index)
                log.error(
                    "worker %d (pid %s) died (%s); replaced by pid %s",
                    worker.index,
                    worker.process.pid,
                    how,
                    replacement.process.pid,
                )
                running[running.index(worker)] = replacement
        log.info("shutting down %d workers (every open session gets close 1001)", len(running))
    finally:
        _stop(running, stop_timeout + SHUTDOWN_GRACE)
        for sock in held:
            sock.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return status


def _stop(running: list[_Worker], timeout: float) -> None:
    """SIGTERM to every worker, then wait for each; SIGKILL any still running at ``timeout``."""
    for worker in running:
        if worker.process.is_alive() and worker.process.pid is not None:
            os.kill(worker.process.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for worker in running:
        worker.process.join(max(0.0, deadline - time.monotonic()))
        if worker.process.is_alive():
            log.error(
                "worker %d (pid %s) did not stop within %.1f s; killed",
                worker.index,
                worker.process.pid,
                timeout,
            )
            worker.process.kill()
            worker.process.join()
