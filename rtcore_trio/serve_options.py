"""The limits of ``rtcore serve`` as command-line options, each with its default in ``--help``.

Every bound a client can make the server hold has a flag: the connection
limits of ``RealtimeServer`` (connections, message size, timeouts, log
throttling, the path served) and every field of ``ServerLimits`` (the
per-session limits), read from the struct itself so that a limit added there
shows up here without a second list to keep in step. The few bounds that are
fixed by design are listed in the help too, with their values.
"""

from __future__ import annotations

import argparse
import resource
import sys
from typing import Any

import msgspec

from rtcore.events.explain import MAX_NESTING_DEPTH
from rtcore.server import ServerLimits
from rtcore.server.config import MAX_SESSION_SECONDS
from rtcore.wire.framing import DEFAULT_MAX_MESSAGE_SIZE
from rtcore.wire.server import DEFAULT_MAX_MESSAGE_VALUES, MAX_PENDING
from rtcore_sim import BACKEND_THREADS, MAX_ECHO_CHARS

from .connection import EVENTS_PER_STEP, PING_FLOOD_SECONDS, PINGS_PER_SECOND, WRITE_BATCH
from .reader import IO_STRATEGIES, MAX_READ_TICK, resolve_read_tick
from .server import (
    DEFAULT_CLOSE_TIMEOUT,
    DEFAULT_FRAME_TIMEOUT,
    DEFAULT_HANDSHAKE_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_PATHS,
    DEFAULT_WRITE_TIMEOUT,
    FLOOD_TURN_AWAY_TIMEOUT,
    MAX_TURNING_AWAY,
    TURN_AWAY_TIMEOUT,
)
from .throttle import DEFAULT_LOG_INTERVAL, DEFAULT_LOG_LINES

__all__ = ["add_serve_limits", "server_options"]

_SESSION_LIMIT_HELP = {
    "max_append_bytes": "decoded audio in one input_audio_buffer.append, bytes",
    "max_buffer_bytes": "uncommitted input audio, bytes",
    "max_items": "conversation items",
    "min_commit_ms": "the shortest input audio a commit accepts, ms",
    "max_session_bytes": "the session's memory budget: uncommitted input audio, user audio "
    "still held, every item (text per character, retained audio per byte, parts, ids and "
    "MCP tools by their decoded size) and the configuration a client set (instructions, "
    "tools and schemas, MCP servers), bytes; beyond it session_memory_exceeded",
    "max_out_of_band_responses": "out-of-band responses (conversation: none) running at "
    "once; one more gets too_many_out_of_band_responses",
    "max_parts": "content parts in one item; more gets array_above_max_length",
    "max_tools": "tools in the session or in one response; more gets array_above_max_length",
    "max_mcp_tools": "names in an MCP server's allowed_tools or tool filter, and tools in one "
    "MCP listing; more gets array_above_max_length (a listing fails)",
    "max_id_length": "characters of an id a client chooses (item id, call_id, "
    "approval_request_id); longer gets id_above_max_length",
    "echo_bytes_per_second": "how fast a session may send back what its client already has "
    "(session.updated, conversation.item.retrieved), counted at its charged size, with a "
    "burst of --max-session-bytes; an update or retrieve beyond gets echo_rate_exceeded, "
    "bytes per second",
}
_PREFIX = "session_limit_"


def _seconds_or_none(text: str) -> float | None:
    if text.lower() in ("none", "off", "0"):
        return None
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("expected a positive number of seconds, or 'none'")
    return value


def _positive(kind: type[int] | type[float]) -> Any:
    def parse(text: str) -> int | float:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its error messages
    return parse


def add_serve_limits(parser: argparse.ArgumentParser, *, sessions: bool = True) -> None:
    """Add the connection and session limit options to ``rtcore serve``.

    ``sessions=False`` leaves out the per-session limits, for ``rtcore relay``,
    whose sessions are its upstream's.
    """
    taken = set(parser._option_string_actions)
    conn = parser.add_argument_group("connections (every bound a client can make the server hold)")
    conn.add_argument(
        "--path",
        action="append",
        default=None,
        metavar="PATH",
        help="a path served; any other gets 404. Given, it replaces the defaults; repeat it "
        f"to serve several (default: {' '.join(DEFAULT_PATHS)}: OpenAI's path, Azure's "
        "preview and GA paths)",
    )
    conn.add_argument(
        "--max-connections",
        type=_positive(int),
        default=DEFAULT_MAX_CONNECTIONS,
        metavar="N",
        help="open connections at most; more get HTTP 503 before any session (default: %(default)s)",
    )
    conn.add_argument(
        "--max-connections-per-client",
        type=_positive(int),
        default=None,
        metavar="N",
        help="open connections from one client address at most; more get HTTP 503 "
        "(default: no such limit)",
    )
    conn.add_argument(
        "--max-message-size",
        type=_positive(int),
        default=DEFAULT_MAX_MESSAGE_SIZE,
        metavar="BYTES",
        help="largest client message, every frame header after the first included, so that "
        "it bounds a fragmented message too; larger closes 1009 (default: %(default)s)",
    )
    conn.add_argument(
        "--max-message-values",
        type=_positive(int),
        default=DEFAULT_MAX_MESSAGE_VALUES,
        metavar="N",
        help="most JSON values in one client message (its objects, arrays and the commas "
        "between their elements, outside strings), checked before it is decoded; more gets "
        "an error event, message_above_max_values (default: %(default)s)",
    )
    conn.add_argument(
        "--handshake-timeout",
        type=_positive(float),
        default=DEFAULT_HANDSHAKE_TIMEOUT,
        metavar="SECONDS",
        help="the opening handshake must arrive within this (default: %(default)s)",
    )
    conn.add_argument(
        "--frame-timeout",
        type=_seconds_or_none,
        default=DEFAULT_FRAME_TIMEOUT,
        metavar="SECONDS",
        help="a frame or fragmented message begun must end within this; closes 1008 "
        "('none' turns it off) (default: %(default)s)",
    )
    if "--idle-timeout" not in taken:
        conn.add_argument(
            "--idle-timeout",
            type=_seconds_or_none,
            default=None,
            metavar="SECONDS",
            help="close a connection that sends nothing for this long (default: none)",
        )
    conn.add_argument(
        "--session-seconds",
        type=_positive(float),
        default=float(MAX_SESSION_SECONDS),
        metavar="SECONDS",
        help="maximum session length, then session_expired and close 1001 (default: %(default)s)",
    )
    conn.add_argument(
        "--write-timeout",
        type=_positive(float),
        default=DEFAULT_WRITE_TIMEOUT,
        metavar="SECONDS",
        help="a write to a client must finish within this, or the client is taken for "
        "one that stopped reading and dropped (default: %(default)s)",
    )
    conn.add_argument(
        "--close-timeout",
        type=_positive(float),
        default=DEFAULT_CLOSE_TIMEOUT,
        metavar="SECONDS",
        help="how long to wait for the client's answer to our close frame (default: %(default)s)",
    )
    conn.add_argument(
        "--log-lines",
        type=_positive(int),
        default=DEFAULT_LOG_LINES,
        metavar="N",
        help="log at most N lines of each kind (connection, error, refused, ...) "
        "per --log-interval; the rest are counted (default: %(default)s)",
    )
    conn.add_argument(
        "--log-interval",
        type=_positive(float),
        default=DEFAULT_LOG_INTERVAL,
        metavar="SECONDS",
        help="the log throttling window (default: %(default)s)",
    )
    parser.add_argument_group("fixed bounds (not configurable)", _fixed_bounds())
    if not sessions:
        return
    parser.add_argument(
        "--io",
        choices=IO_STRATEGIES,
        default=None,
        help="how session sockets are read: epoll, one task for all of them (Linux; TLS "
        "sessions keep a task each), per-task, a task each; auto: epoll where the platform "
        "has it (default: $RTCORE_IO, else auto)",
    )
    parser.add_argument(
        "--read-tick",
        type=_read_tick,
        default=None,
        metavar="MS",
        help="with --io epoll, under load the reader looks at the sockets once per tick so that "
        "one wakeup serves many sessions; a read waits up to one tick longer, an idle server "
        f"reads at once; 0: no tick, 0 to {MAX_READ_TICK * 1000:g} "
        "(default: $RTCORE_READ_TICK, else 0)",
    )
    session = parser.add_argument_group("per session (exceeding one gets an error event)")
    session.add_argument(
        "--retain-audio",
        action="store_true",
        help="keep audio bytes in items (conversation.item.retrieve returns them); "
        "by default only durations and transcripts are kept, and retained audio "
        "counts toward --max-session-bytes",
    )
    defaults = ServerLimits()
    for field in msgspec.structs.fields(ServerLimits):
        value = getattr(defaults, field.name)
        option = "--" + field.name.replace("_", "-")
        if isinstance(value, bool) or not isinstance(value, int | float) or option in taken:
            continue
        described = _SESSION_LIMIT_HELP.get(field.name, field.name.replace("_", " "))
        session.add_argument(
            option,
            dest=_PREFIX + field.name,
            type=type(value),
            default=value,
            metavar="N",
            help=f"{described} (default: %(default)s)",
        )


def _read_tick(text: str) -> float:
    """``--read-tick MS``, in seconds."""
    try:
        return resolve_read_tick(float(text) / 1000)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected milliseconds from 0 to {MAX_READ_TICK * 1000:g}, got {text}"
        ) from None


def _fixed_bounds() -> str:
    return (
        f"JSON nesting {MAX_NESTING_DEPTH} levels (deeper: the bad-event error); "
        f"bytes a client may send ahead of the handshake's answer "
        f"{MAX_PENDING}; clients over --max-connections given {TURN_AWAY_TIMEOUT} s to send "
        f"their request for a 503, {MAX_TURNING_AWAY} at once (more get "
        f"{FLOOD_TURN_AWAY_TIMEOUT} s; over TLS they are closed); client events handled per loop step "
        f"{EVENTS_PER_STEP}; pings a client may send per second {PINGS_PER_SECOND} (beyond, "
        f"its connection is not read until it is back under the rate; a wait over "
        f"{PING_FLOOD_SECONDS} s ends its session, 1008); bytes of events "
        f"written to a client in one go {WRITE_BATCH}; threads for CPU-heavy backend work {BACKEND_THREADS}; "
        f"characters the echo backend answers {MAX_ECHO_CHARS}"
    )


def server_options(args: argparse.Namespace) -> dict[str, Any]:
    """``RealtimeServer`` keyword arguments from the parsed options."""
    limits = {
        name[len(_PREFIX) :]: value
        for name, value in vars(args).items()
        if name.startswith(_PREFIX)
    }
    _allow_descriptors(args.max_connections)
    return {
        "path": tuple(args.path) if args.path else DEFAULT_PATHS,
        "max_connections": args.max_connections,
        "max_connections_per_client": args.max_connections_per_client,
        "max_message_size": args.max_message_size,
        "max_message_values": args.max_message_values,
        "handshake_timeout": args.handshake_timeout,
        "frame_timeout": args.frame_timeout,
        "idle_timeout": args.idle_timeout,
        "max_session_seconds": args.session_seconds,
        "write_timeout": args.write_timeout,
        "close_timeout": args.close_timeout,
        "log_lines": args.log_lines,
        "log_interval": args.log_interval,
        "limits": ServerLimits(**limits),
        "retain_audio": getattr(args, "retain_audio", False),
        **({"io": args.io} if hasattr(args, "io") else {}),
        **({"read_tick": args.read_tick} if hasattr(args, "read_tick") else {}),
    }


def _allow_descriptors(connections: int) -> None:
    """Raise the soft limit on open files to fit ``connections`` (plus headroom), if allowed."""
    wanted = connections + 64
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            target = soft
        if target < wanted:
            print(
                f"rtcore serve: only {target} open files allowed; "
                f"--max-connections {connections} will not be reached",
                file=sys.stderr,
            )
