"""The ``rtcore`` command line: ``serve`` a local endpoint, ``relay`` to another, ``demo`` a
conversation, ``replay`` a trace, ``check`` a server, ``loadtest`` an endpoint.

``main(argv)`` returns the exit status. A mistake of the user's is one line on
stderr naming what is wrong, never a traceback: an option out of range (argparse,
status 2), a file that cannot be read (the file is named), a port that cannot be
bound (the host and port are named; status 2). When the reader of our output goes
away (``rtcore replay trace.jsonl | head -1``) the command ends quietly with
status 1, as Python's documentation advises for a closed pipe.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import signal
import ssl
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import trio

from rtcore.events import Dialect
from rtcore.events.codec import client_decoder
from rtcore.state import snapshot_to_text
from rtcore.trace import read_trace, replay
from rtcore_sim import load_backend

from .cassette import CASSETTE_PREFIX, CassetteServer, read_playable_cassette
from .check_cli import add_check_command, run_check_command
from .demo import run_demo
from .faults import add_fault_option
from .loadtest_cli import add_loadtest_parser, run_loadtest
from .relay_cli import add_relay_command, run_relay
from .relay_record import Cassette
from .serve_options import add_serve_limits, server_options
from .server import RealtimeServer
from .workers import add_worker_options, run_workers

__all__ = ["main"]

SERVE_EXAMPLES = """\
faults, to rehearse what a real endpoint does only by chance (--fault is repeatable):
  rtcore serve --fault latency=50ms,jitter=10ms         each event to the client 50 ms (+-10) late
  rtcore serve --fault latency=30ms,direction=up        each client event 30 ms late to the session
  rtcore serve --fault close=1011,after=5               close 1011 after 5 server events
  rtcore serve --fault close=1001,after=2s              close 1001 two seconds after the handshake
  rtcore serve --fault drop,after=5                     end TCP without a close frame after 5 events
  rtcore serve --fault refuse=503                       refuse every handshake with HTTP 503
"""


def _replay(path: Path, as_json: bool, dialect: Dialect | Literal["auto"] = "auto") -> int:
    try:
        with path.open("rb") as lines:
            client = replay(read_trace(lines), dialect=dialect)
    except OSError as err:
        print(f"rtcore replay: {err}", file=sys.stderr)
        return 2
    snapshot = client.state
    if as_json:
        json.dump(snapshot.to_dict(), sys.stdout, indent=2, ensure_ascii=False)
        print()
    else:
        print(snapshot_to_text(snapshot))
    return 0


async def _serve(server: RealtimeServer, host: str, port: int) -> None:
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve, host, port)
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                logging.getLogger("rtcore.serve").info(
                    "shutting down (every open response is ended)"
                )
                server.shutdown()
                break


def _port(text: str) -> int:
    """A TCP port for argparse: an integer from 0 to 65535 (0: any free port)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port: use 0 to 65535")
    return port


def _dialects(spec: str) -> tuple[str, ...]:
    chosen = tuple(d.strip() for d in spec.split(",") if d.strip())
    if not chosen or set(chosen) - {"ga", "beta"}:
        raise ValueError(f"--dialects takes ga, beta or ga,beta, not {spec!r}")
    return chosen


def _tls(cert: str | None, key: str | None) -> ssl.SSLContext | None:
    """A server TLS context from a PEM certificate chain and key (``wss://``)."""
    if cert is None and key is None:
        return None
    if cert is None:
        raise ValueError("--tls-key needs --tls-cert")
    # ssl reports a file it cannot open as a bare "[Errno 2] No such file or directory":
    # open each first, so that the message names the file.
    for flag, path in (("--tls-cert", cert), ("--tls-key", key)):
        if path is not None:
            try:
                with open(path, "rb"):
                    pass
            except OSError as err:
                raise ValueError(f"{flag} {path}: {err.strerror or err}") from None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def _run_server(args: argparse.Namespace) -> int:
    cassette: Cassette | None = None
    try:
        if args.backend.startswith(CASSETTE_PREFIX):
            cassette = read_playable_cassette(Path(args.backend[len(CASSETTE_PREFIX) :]))
        else:
            backend, transcriber = load_backend(args.backend, realtime=args.realtime)
    except (ValueError, OSError) as err:
        print(f"rtcore serve: {err}", file=sys.stderr)
        return 2
    # With --workers, each line names the process it comes from.
    name = "%(name)s" if args.workers == 1 else "%(name)s[%(process)d]"
    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s {name} %(message)s", stream=sys.stderr
    )
    try:
        ssl_context = _tls(args.tls_cert, args.tls_key)
        dialects = _dialects(args.dialects)
    except ssl.SSLError as err:  # ssl says "[SSL] PEM lib (_ssl.c:...)": name the files
        files = " and ".join(f for f in (args.tls_cert, args.tls_key) if f)
        print(
            f"rtcore serve: not a PEM certificate chain and key: {files} ({err})", file=sys.stderr
        )
        return 2
    except (ValueError, OSError) as err:
        print(f"rtcore serve: {err}", file=sys.stderr)
        return 2

    def make_server() -> RealtimeServer:
        server = _make_server()
        for dialect in server.dialects:  # made now, not on a client's first message (25-90 ms)
            client_decoder(dialect)
        # Everything made so far (modules, classes, the codec's tables) lives as long as
        # the process: out of the cyclic collector's reach, a full collection walks only
        # what sessions made (it walked some 45 000 objects, 50-60 ms of every session's
        # loop, each time a large message set it off).
        gc.freeze()
        return server

    def _make_server() -> RealtimeServer:
        if cassette is not None:  # the cassette's client dialect is the one served
            return CassetteServer(
                cassette,
                pace=args.realtime,
                api_keys=args.api_key or None,
                ssl_context=ssl_context,
                faults=args.fault,
                **server_options(args),
            )
        return RealtimeServer(
            backend,
            transcriber=transcriber,
            api_keys=args.api_key or None,
            conversation_created=args.conversation_created,
            dialects=dialects,
            ssl_context=ssl_context,
            faults=args.fault,
            **server_options(args),
        )

    if args.workers > 1:
        try:
            stop_timeout = args.close_timeout + args.write_timeout
            return run_workers(
                make_server,
                args.host,
                args.port,
                args.workers,
                share=args.share_port,
                stop_timeout=stop_timeout,
            )
        except OSError as err:
            reason = err.strerror or str(err)
            print(
                f"rtcore serve: cannot listen on {args.host}:{args.port}: {reason}", file=sys.stderr
            )
            return 2
    server = make_server()
    unbound: OSError | None = None
    try:
        trio.run(_serve, server, args.host, args.port)
    except* OSError as group:
        # trio reports a task's error inside an ExceptionGroup. Before the server has
        # bound its port, an OSError can only be about binding it: say that in one line.
        if server.port is not None:
            raise
        unbound = _first_os_error(group)
    if unbound is not None:
        reason = unbound.strerror or str(unbound)
        print(f"rtcore serve: cannot listen on {args.host}:{args.port}: {reason}", file=sys.stderr)
        return 2
    return 0


def _first_os_error(group: BaseExceptionGroup[OSError]) -> OSError:
    """The first ``OSError`` in a (possibly nested) exception group."""
    first: OSError | BaseExceptionGroup[OSError] = group.exceptions[0]
    while isinstance(first, BaseExceptionGroup):
        first = first.exceptions[0]
    return first


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="rtcore", description="OpenAI Realtime protocol engine (GA and beta dialects)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser(
        "serve",
        help="run a local Realtime server",
        epilog=SERVE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve_cmd.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: loopback)"
    )
    serve_cmd.add_argument(
        "--port", type=_port, default=8765, help="port, 0 for any free one (default: 8765)"
    )
    serve_cmd.add_argument(
        "--backend",
        default="echo",
        help="echo (default), script:FILE (a JSON scenario) or cassette:FILE (play back a "
        "session recorded by rtcore relay: the recorded server events in answer to a "
        "client that sends the same kinds of events; the first that differs gets an error "
        "naming it and close 1008)",
    )
    serve_cmd.add_argument(
        "--api-key",
        action="append",
        help="accept this key (repeatable); without it any key is accepted",
    )
    serve_cmd.add_argument(
        "--realtime",
        action="store_true",
        help="pace audio output in real time; with a cassette, its recorded pacing "
        "(default: as fast as the socket takes it)",
    )
    serve_cmd.add_argument(
        "--conversation-created",
        action="store_true",
        help="send conversation.created after session.created",
    )
    serve_cmd.add_argument(
        "--dialects",
        default="ga,beta",
        help="dialects served: ga, beta or ga,beta; a refused beta handshake gets"
        " beta_api_shape_disabled and close 4000 as on OpenAI (default: ga,beta)",
    )
    serve_cmd.add_argument(
        "--tls-cert", metavar="FILE", help="PEM certificate chain: serve wss:// (default: ws://)"
    )
    serve_cmd.add_argument(
        "--tls-key", metavar="FILE", help="PEM private key (default: in the --tls-cert file)"
    )
    add_serve_limits(serve_cmd)
    add_worker_options(serve_cmd)
    add_fault_option(serve_cmd)
    add_relay_command(commands)
    commands.add_parser("demo", help="start a server and a client and hold a short conversation")
    replay_cmd = commands.add_parser(
        "replay", help="feed a recorded JSONL trace to the client engine and print the conversation"
    )
    replay_cmd.add_argument("file", type=Path, help="trace file, one event per line")
    replay_cmd.add_argument("--json", action="store_true", help="print the snapshot as JSON")
    replay_cmd.add_argument(
        "--dialect",
        choices=("auto", "beta", "ga"),
        default="auto",
        help="the trace's dialect; auto decides from the event names (default: auto)",
    )
    add_check_command(commands)
    add_loadtest_parser(commands)
    args = parser.parse_args(argv)
    closed = False
    status = 0
    try:
        if args.command == "replay":
            status = _replay(args.file, args.json, args.dialect)
        elif args.command == "serve":
            status = _run_server(args)
        elif args.command == "relay":
            status = run_relay(args)
        elif args.command == "check":
            status = run_check_command(args)
        elif args.command == "loadtest":
            status = run_loadtest(args)
        else:
            trio.run(run_demo)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's last flush
    except* BrokenPipeError:
        closed = True
    if closed:
        return _stdout_closed()
    return status


def _stdout_closed() -> int:
    """The reader of our output has gone (``rtcore replay ... | head -1``): end quietly.

    As Python's documentation advises for SIGPIPE: point stdout at devnull, so
    that the interpreter's final flush does not fail again, and exit with 1.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 1


if __name__ == "__main__":
    sys.exit(main())
