"""Faults a relay injects on purpose (``--fault SPEC``): what a real endpoint does only by chance.

A SPEC is a comma-separated list; each fault is one of

* ``latency=50ms[,jitter=10ms][,direction=up|down]``: every message in that
  direction (``down``, the default: server events to the client; ``up``:
  client events to the upstream) is held this long, plus a uniform random
  ``±jitter``. Messages keep their order, so delays add up along a burst,
  as on a slow link;
* ``close=1011,after=5``: close the client's connection with that code after
  5 server events (``after=2s``: after two seconds);
* ``drop,after=5``: end the client's TCP connection without a close frame
  after 5 server events (or ``after=2s``);
* ``refuse=503``: refuse the client's handshake with that HTTP status.

Durations take ``ms`` or ``s``. ``parse_fault`` refuses anything else with a
message naming the part it did not understand.
"""

from __future__ import annotations

import random
import re
from typing import Literal

import msgspec

__all__ = ["EXAMPLES", "Fault", "FaultPlan", "parse_fault"]

EXAMPLES = (
    "latency=50ms,jitter=10ms,direction=down",
    "close=1011,after=5",
    "drop,after=2s",
    "refuse=503",
)

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s)$")


class Fault(msgspec.Struct, frozen=True, kw_only=True):
    """One fault: ``kind`` and the members that kind uses."""

    kind: Literal["latency", "close", "drop", "refuse"]
    latency: float = 0.0
    jitter: float = 0.0
    direction: Literal["up", "down"] = "down"
    code: int = 1011
    after_events: int | None = None
    after_seconds: float | None = None
    status: int = 503


def _duration(name: str, text: str) -> float:
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"{name}={text}: expected a duration such as 50ms or 2s")
    value = float(match[1])
    return value / 1000 if match[2] == "ms" else value


def _after(text: str) -> tuple[int | None, float | None]:
    if text.isdigit():
        return int(text), None
    return None, _duration("after", text)


def parse_fault(spec: str) -> Fault:
    """One ``--fault`` SPEC as a ``Fault``; raises ``ValueError`` saying what is wrong."""
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    if not parts:
        raise ValueError("an empty fault: use one of " + ", ".join(EXAMPLES))
    head, _, value = parts[0].partition("=")
    options = {}
    for part in parts[1:]:
        name, sep, text = part.partition("=")
        if not sep:
            raise ValueError(f"{part!r}: expected name=value")
        options[name] = text
    allowed = {
        "latency": {"jitter", "direction"},
        "close": {"after"},
        "drop": {"after"},
        "refuse": set(),
    }
    if head not in allowed:
        raise ValueError(f"{head!r} is not a fault: use one of " + ", ".join(EXAMPLES))
    unknown = set(options) - allowed[head]
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
            or int(value) in (1005, 1006, 1015)
        ):
            raise ValueError(f"close={value}: expected a close code a peer may send (1000-4999)")
        return Fault(kind="close", code=int(value), after_events=events, after_seconds=seconds)
    if value:
        raise ValueError(f"drop takes no value (drop,after=N), not drop={value}")
    return Fault(kind="drop", after_events=events, after_seconds=seconds)


class FaultPlan:
    """The faults of one relay, asked by each connection what to do and when."""

    def __init__(self, faults: tuple[Fault, ...], seed: int | None = None) -> None:
        self.faults = faults
        self._random = random.Random(seed)
        self.refuse = next((f.status for f in faults if f.kind == "refuse"), None)
        """The HTTP status to refuse every handshake with, if any."""
        self.timed = tuple(f for f in faults if f.after_seconds is not None)
        """Ends that come after a time: each connection starts a timer for them."""
        self._counted = {f.after_events: f for f in faults if f.after_events is not None}
        self._latency = {
            d: tuple(f for f in faults if f.kind == "latency" and f.direction == d)
            for d in ("up", "down")
        }

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
