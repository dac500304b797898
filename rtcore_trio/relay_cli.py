"""``rtcore relay``: the command line of ``RelayServer``.

It takes ``serve``'s listening, TLS, key and connection-limit options (the
per-session limits are the upstream's business, so they are not offered),
and where to relay to: ``--upstream URL`` and the dialect it speaks. The
upstream key is read from the environment (``OPENAI_API_KEY``, or the
variable ``--upstream-key-env`` names), never from the command line, where
other users of the machine could read it in the process list.
"""

from __future__ import annotations

import argparse
import logging
import os
import ssl
import sys
from typing import Any, cast

import trio

from rtcore.events import Dialect

from .faults import add_fault_option
from .relay import RelayServer
from .serve_options import add_serve_limits, server_options

__all__ = ["add_relay_command", "run_relay"]

EXAMPLES = """\
examples:
  keep a beta app working against OpenAI (GA only):
    OPENAI_API_KEY=sk-... rtcore relay --upstream wss://api.openai.com/v1/realtime \\
        --upstream-dialect ga --dialects beta,ga --api-key my-app-key
  keep the key off the browser: the app's clients authenticate with --api-key,
  the relay alone holds OPENAI_API_KEY
  record every session (keys redacted) to replay it in tests:
    rtcore relay --upstream ws://127.0.0.1:8765/v1/realtime --port 8766 --record cassettes/
  rehearse failures: 50 ms (+-10 ms) more per event to the client, then a 1011 close
  after 20 events:
    rtcore relay --upstream ws://127.0.0.1:8765/v1/realtime --port 8766 \
        --fault latency=50ms,jitter=10ms --fault close=1011,after=20
  or delay what the client sends, drop the TCP connection (no close frame) after 2 s,
  or refuse every handshake with HTTP 503:
    --fault latency=30ms,direction=up    --fault drop,after=2s    --fault refuse=503
"""


def _upstream_dialect(text: str) -> Dialect:
    if text not in ("ga", "beta"):
        raise argparse.ArgumentTypeError("expected ga or beta")
    return cast(Dialect, text)


def add_relay_command(commands: Any) -> None:
    """Register ``relay`` on the ``rtcore`` subcommands."""
    from .cli import _port

    cmd = commands.add_parser(
        "relay",
        help="relay each session to an upstream Realtime server, translating dialects",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cmd.add_argument(
        "--upstream",
        required=True,
        metavar="URL",
        help="ws:// or wss:// URL of the upstream endpoint",
    )
    cmd.add_argument(
        "--upstream-dialect",
        type=_upstream_dialect,
        default="ga",
        help="the dialect the upstream speaks: ga or beta (default: ga)",
    )
    cmd.add_argument(
        "--upstream-key-env",
        default="OPENAI_API_KEY",
        metavar="NAME",
        help="environment variable holding the upstream's API key (default: OPENAI_API_KEY)",
    )
    cmd.add_argument(
        "--record",
        metavar="DIR",
        help="write each session to a cassette in DIR: an rtcore trace (rtcore replay reads "
        "it) of both directions with timing, credentials and secrets left out; the "
        "upstream's side goes to NAME.upstream.jsonl when the relay translates",
    )
    add_fault_option(cmd)
    cmd.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    cmd.add_argument(
        "--port", type=_port, default=8765, help="port, 0 for any free one (default: 8765)"
    )
    cmd.add_argument(
        "--api-key",
        action="append",
        help="the relay's own key its clients must present (repeatable); without it any key is accepted",
    )
    cmd.add_argument(
        "--dialects",
        default="ga,beta",
        help="dialects served to clients: ga, beta or ga,beta; translated when not the "
        "upstream's (default: ga,beta)",
    )
    cmd.add_argument(
        "--tls-cert", metavar="FILE", help="PEM certificate chain: serve wss:// (default: ws://)"
    )
    cmd.add_argument(
        "--tls-key", metavar="FILE", help="PEM private key (default: in the --tls-cert file)"
    )
    add_serve_limits(cmd, sessions=False)


def run_relay(args: argparse.Namespace) -> int:
    """Run ``rtcore relay`` until interrupted; the exit status."""
    from .cli import _dialects, _first_os_error, _serve, _tls

    key = os.environ.get(args.upstream_key_env)
    if not key:
        print(
            f"rtcore relay: no upstream key: set {args.upstream_key_env} "
            "(or name another variable with --upstream-key-env)",
            file=sys.stderr,
        )
        return 2
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr
    )
    try:
        ssl_context = _tls(args.tls_cert, args.tls_key)
        relay = RelayServer(
            args.upstream,
            upstream_dialect=args.upstream_dialect,
            upstream_key=key,
            api_keys=args.api_key or None,
            dialects=_dialects(args.dialects),
            ssl_context=ssl_context,
            record=args.record,
            faults=args.fault,
            **server_options(args),
        )
    except (ValueError, OSError, ssl.SSLError) as err:
        print(f"rtcore relay: {err}", file=sys.stderr)
        return 2
    unbound: OSError | None = None
    try:
        trio.run(_serve, relay, args.host, args.port)
    except* OSError as group:
        if relay.port is not None:
            raise
        unbound = _first_os_error(group)
    if unbound is not None:
        reason = unbound.strerror or str(unbound)
        print(f"rtcore relay: cannot listen on {args.host}:{args.port}: {reason}", file=sys.stderr)
        return 2
    return 0
