"""Faults a server injects on purpose (``--fault SPEC``): what a real endpoint does only by chance.

``rtcore serve`` and ``rtcore relay`` both take them (``RealtimeServer(faults=...)``
and ``RelayServer(faults=...)`` in code); this module is their one home: the
spec's syntax (``parse_fault``), what each fault means (``FaultPlan``: the
delay of the next message, the end due after so many events, the status a
handshake is refused with). Each server applies the plan where its messages
go out.

A SPEC is a comma-separated list; each fault is one of

* ``latency=50ms[,jitter=10ms][,direction=up|down]``: every message in that
  direction (``down``, the default: server events to the client; ``up``:
  client events to the server, or to the upstream of a relay) is held this
  long, plus a uniform random ``±jitter``. Messages keep their order, so
  delays add up along a burst, as on a slow link;
* ``close=1011,after=5``: close the client's connection with that code after
  5 server events (``after=2s``: two seconds after the handshake);
* ``drop,after=5``: end the client's TCP connection without a close frame
  after 5 server events (or ``after=2s``);
* ``refuse=503``: refuse the client's handshake with that HTTP status (after
  the path and key checks, which keep their own 404 and 401).

Durations take ``ms`` or ``s``. ``parse_fault`` refuses anything else with a
message naming the part it did not understand.
"""

from __future__ import annotations

import argparse
import random
import re
from typing import Literal

import msgspec

__all__ = ["FAULT_EXAMPLES", "Fault", "FaultPlan", "add_fault_option", "parse_fault"]

FAULT_EXAMPLES = (
    "latency=50ms,jitter=10ms,direction=down",
    "close=1011,after=5",
    "drop,after=2s",
    "refuse=503",
)
"""One SPEC of each kind, as ``--help`` and the README show them."""

_HELP = (
    "inject a fault (repeatable); SPEC is one of: "
    + "; ".join(FAULT_EXAMPLES)
    + " (each message held 50 ms +-10 ms, down to the client or up from it; close with "
    "code 1011 after 5 server events or a time such as after=2s; drop the TCP connection "
    "without a close frame; refuse the handshake with HTTP 503)"
)

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s)$")
_OPTIONS = {
    "latency": {"jitter", "direction"},
    "close": {"after"},
    "drop": {"after"},
    "refuse": set(),
}


class Fault(msgspec.Struct, frozen=True, kw_only=True):
    """One fault: ``kind`` and the members that kind uses (``parse_fault`` makes them from a SPEC)."""

    kind: Literal["latency", "close", "drop", "refuse"]
    latency: float = 0.0
    """``latency``: seconds each message is held."""
    jitter: float = 0.0
    """``latency``: at most this many seconds more or less, uniformly at random."""
    direction: Literal["up", "down"] = "down"
    """``latency``: ``down`` delays server events, ``up`` client events."""
    code: int = 1011
    """``close``: the close code."""
    after_events: int | None = None
    """``close``/``drop``: after this many server events have been sent to the client."""
    after_seconds: float | None = None
    """``close``/``drop``: this many seconds after the handshake."""
    status: int = 503
    """``refuse``: the HTTP status."""

    @property
    def spec(self) -> str:
        """The fault as a SPEC ``parse_fault`` reads back (for logs and messages)."""
        if self.kind == "latency":
            text = f"latency={self.latency * 1000:g}ms"
            if self.jitter:
                text += f",jitter={self.jitter * 1000:g}ms"
            return text + f",direction={self.direction}"
        if self.kind == "refuse":
            return f"refuse={self.status}"
        after = (
            str(self.after_events) if self.after_events is not None else f"{self.after_seconds:g}s"
        )
        head = f"close={self.code}" if self.kind == "close" else "drop"
        return f"{head},after={after}"


def _duration(name: str, text: str) -> float:
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"{name}={text}: expected a duration such as 50ms or 2s")
    value = float(match[1])
    return value / 1000 if match[2] == "ms" else value


def _after(text: str) -> tuple[int | None, float | None]:
    if text.isdigit():
        if int(text) < 1:
            raise ValueError("after=0: count server events from 1")
        return int(text), None
    return None, _duration("after", text)


def parse_fault(spec: str) -> Fault:
    """One ``--fault`` SPEC as a ``Fault``; raises ``ValueError`` saying what is wrong.

    ``parse_fault("close=1011,after=5")`` is
    ``Fault(kind="close", code=1011, after_events=5)``.
    """
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    if not parts:
        raise ValueError("an empty fault: use one of " + ", ".join(FAULT_EXAMPLES))
    head, _, value = parts[0].partition("=")
    options = {}
    for part in parts[1:]:
        name, sep, text = part.partition("=")
        if not sep:
            raise ValueError(f"{part!r}: expected name=value")
        options[name] = text
    if head not in _OPTIONS:
        raise ValueError(f"{head!r} is not a fault: use one of " + ", ".join(FAULT_EXAMPLES))
    unknown = set(options) - _OPTIONS[head]
    if unknown:
        raise ValueError(f"{head} does not take {', '.join(sorted(unknown))}")
    if head == "latency":
        direction = options.get("direction", "down")
        if direction not in ("up", "down"):
            raise ValueError(f"direction={direction}: expected up or down")
        return Fault(
            kind="latency",
            latency=_duration("latency", value),
            jitter=_duration("jitter", options["jitter"]) if "jitter" in options else 0.0,
            direction="up" if direction == "up" else "down",
        )
    if head == "refuse":
        if not value.isdigit() or not 400 <= int(value) <= 599:
            raise ValueError(f"refuse={value}: expected an HTTP error status, 400 to 599")
        return Fault(kind="refuse", status=int(value))
    if "after" not in options:
        raise ValueError(f"{head} needs after=N (server events) or after=DURATION")
    events, seconds = _after(options["after"])
    if head == "close":
        if (
            not value.isdigit()
            or not (1000 <= int(value) <= 4999)
            or int(value) in (1004, 1005, 1006, 1015)
        ):
            raise ValueError(f"close={value}: expected a close code a peer may send (1000-4999)")
        return Fault(kind="close", code=int(value), after_events=events, after_seconds=seconds)
    if value:
        raise ValueError(f"drop takes no value (drop,after=N), not drop={value}")
    return Fault(kind="drop", after_events=events, after_seconds=seconds)


class FaultPlan:
    """The faults of one server, asked by each connection what to do and when.

    ``seed`` fixes the jitter's random sequence (tests); by default it is random.
    """

    def __init__(self, faults: tuple[Fault, ...], seed: int | None = None) -> None:
        self.faults = faults
        self._random = random.Random(seed)
        self.refuse = next((f.status for f in faults if f.kind == "refuse"), None)
        """The HTTP status to refuse every handshake with, if any."""
        self.timed = tuple(f for f in faults if f.after_seconds is not None)
        """Ends that come after a time: each connection starts a timer for them."""
        self._counted: dict[int, Fault] = {}
        for fault in faults:
            if fault.after_events is not None:
                self._counted.setdefault(fault.after_events, fault)
        self._latency = {
            d: tuple(f for f in faults if f.kind == "latency" and f.direction == d)
            for d in ("up", "down")
        }
        self.delays_up = bool(self._latency["up"])
        """Whether client events are held (so a reader asks ``delay("up")`` only then)."""

    def delay(self, direction: Literal["up", "down"]) -> float:
        """How long to hold the next message going ``direction`` (0 without latency faults)."""
        total = 0.0
        for fault in self._latency[direction]:
            total += fault.latency + (
                self._random.uniform(-fault.jitter, fault.jitter) if fault.jitter else 0.0
            )
        return max(0.0, total)

    def after_events(self, count: int) -> Fault | None:
        """The close or drop due once ``count`` server events have reached the client."""
        return self._counted.get(count)

    def refusal_message(self) -> str:
        """What a client refused by ``refuse=STATUS`` is told (the error body's message)."""
        return f"Refused by the server's fault refuse={self.refuse} (--fault)."


def _fault_option(text: str) -> Fault:
    try:
        return parse_fault(text)
    except ValueError as err:  # argparse then names the option and the SPEC, no traceback
        raise argparse.ArgumentTypeError(str(err)) from None


def add_fault_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--fault SPEC`` (repeatable; ``args.fault`` is a list of ``Fault``) to a command."""
    parser.add_argument(
        "--fault",
        action="append",
        type=_fault_option,
        default=[],
        metavar="SPEC",
        help=_HELP,
    )
