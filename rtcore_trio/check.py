"""``rtcore check URL``: does a Realtime server speak the protocol? A conformance check.

It holds scripted conversations with the server at ``URL`` in the dialect
asked (``rtcore_trio.check_flows``: text, server-VAD audio with synthetic
speech, a tool call round trip, cancel, truncate, item create / retrieve /
delete, session update, input transcription, errors for invalid events), each on a connection of
its own so that one broken flow does not hide the others. Every message the
server sends is

* decoded strictly in the dialect (an unknown field, a wrong type, a type
  the dialect does not define is a deviation: ``invalid_event``,
  ``unknown_event``), then
* fed to the client's state machine (``rtcore.ClientSession``), whose
  protocol errors (``protocol_error``: a delta for an item never announced,
  a part done twice...) and anomalies (``anomaly``: a done value that
  differs from its deltas...) are deviations too;

and each step checks the events it is owed, in order (``missing``), the
answers it must not get (``error``: an ``error`` where success was due;
``unexpected``), and within a time limit (``timeout``). Each deviation names
the flow, the step and the event. The exit status is 0 only when there are
none; ``--json`` prints the report as JSON for CI.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal

import msgspec
import trio

from rtcore import ClientSession, ReceivedEvent
from rtcore import events as ev
from rtcore.errors import RemoteProtocolError

from .client import RealtimeClient, connect
from .errors import ConnectionClosedError, HandshakeError

__all__ = ["Deviation", "FlowResult", "Report", "StrictSession", "format_report", "run_check"]

DeviationKind = Literal[
    "invalid_event",
    "unknown_event",
    "protocol_error",
    "anomaly",
    "missing",
    "unexpected",
    "error",
    "timeout",
    "connection",
]


MAX_SHOWN = 16
"""Event types a ``missing`` deviation lists of what came instead."""


class Deviation(msgspec.Struct, frozen=True):
    """One way the server departed from the protocol: where (flow, step), what, and the event."""

    flow: str
    step: str
    kind: DeviationKind
    detail: str
    event: str | None = None
    """The ``type`` of the event concerned: the one that came, or for ``missing`` and
    ``timeout`` the one owed (``None`` when no event is: a refused connection)."""
    count: int = 1
    """How many times the step met this very deviation (one line for a stream of them)."""


class FlowResult(msgspec.Struct):
    name: str
    events: int = 0
    seconds: float = 0.0
    deviations: list[Deviation] = msgspec.field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.deviations


class Report(msgspec.Struct):
    url: str
    dialect: ev.Dialect
    flows: list[FlowResult] = msgspec.field(default_factory=list)

    @property
    def conformant(self) -> bool:
        return all(flow.passed for flow in self.flows)

    @property
    def deviations(self) -> list[Deviation]:
        return [d for flow in self.flows for d in flow.deviations]

    def to_dict(self) -> dict[str, Any]:
        plain: dict[str, Any] = msgspec.to_builtins(self)
        plain["conformant"] = self.conformant
        for flow, result in zip(plain["flows"], self.flows, strict=True):
            flow["passed"] = result.passed
        return plain


class StrictSession(ClientSession):
    """A ``ClientSession`` that decodes strictly first and notes every deviation it meets.

    ``unchecked = True`` lets the next events through ``send`` without the
    client's own checks, and ``raw`` replaces the next event's bytes: the
    errors flow sends what a server must refuse, some of it not even an event.
    """

    def __init__(
        self, dialect: ev.Dialect, note: Callable[[DeviationKind, str, str | None], None]
    ) -> None:
        super().__init__(dialect=dialect, retain_audio=False)
        self._note = note
        self.unchecked = False
        self.raw: bytes | None = None

    def receive_message(self, data: bytes | str) -> list[ReceivedEvent]:
        try:
            strict = ev.decode_server_event(data, dialect=self.dialect, strict=True)
        except ev.DecodeError as err:
            self._note("invalid_event", f"does not validate: {err}", err.event_type)
        else:
            if isinstance(strict, ev.UnknownEvent):
                self._note(
                    "unknown_event", f"not an event of the {self.dialect} dialect", strict.type
                )
        anomalies = len(self.state.anomalies)
        received = super().receive_message(data)
        for out in received:
            if isinstance(out, RemoteProtocolError):
                self._note("protocol_error", str(out), out.event_type)
        for anomaly in list(self.state.anomalies)[anomalies:]:
            kind = anomaly.kind
            self._note("anomaly", f"{kind}: {anomaly.detail}", _type_of(data))
        return received

    def send(self, event: ev.ClientEvent) -> bytes:
        if self.raw is not None:
            data, self.raw = self.raw, None
            return data
        if not self.unchecked:
            return super().send(event)
        self.note_sent(event)
        return ev.encode_event(event)


def _type_of(data: bytes | str) -> str | None:
    try:
        kind = json.loads(data).get("type")
    except (ValueError, AttributeError):
        return None
    return kind if isinstance(kind, str) else None


class Conversation:
    """One flow's connection: send events, and take the server's events step by step."""

    def __init__(self, flow: FlowResult, dialect: ev.Dialect, timeout: float) -> None:
        self.flow = flow
        self.dialect: ev.Dialect = dialect
        self.timeout = timeout
        self.step = "connect"
        self.client: RealtimeClient | None = None
        self.session = StrictSession(dialect, self.note)

    def note(self, kind: DeviationKind, detail: str, event: str | None = None) -> None:
        found = Deviation(self.flow.name, self.step, kind, detail, event)
        noted = self.flow.deviations
        # The same deviation again in this step (a stream of bad deltas) counts on its first line.
        for at in range(len(noted) - 1, -1, -1):
            if noted[at].step != self.step:
                break
            if msgspec.structs.replace(noted[at], count=1) == found:
                noted[at] = msgspec.structs.replace(noted[at], count=noted[at].count + 1)
                return
        noted.append(found)

    async def send(self, event: ev.ClientEvent, *, unchecked: bool = False) -> None:
        assert self.client is not None
        self.session.unchecked = unchecked
        try:
            await self.client.send(event)
        finally:
            self.session.unchecked = False

    async def send_raw(self, data: bytes) -> None:
        """Send ``data`` as one text message, whatever it holds (the client machine never sees it)."""
        self.session.raw = data
        try:
            await self.send(ev.InputAudioBufferClear())  # a carrier: its bytes are replaced
        finally:
            self.session.raw = None

    async def take(
        self,
        step: str,
        until: str | Sequence[str],
        expect: Sequence[str] = (),
        *,
        errors_ok: bool = False,
        timeout: float | None = None,
    ) -> list[Any]:
        """The server's events up to and including the first of ``until`` (``[]`` on timeout).

        ``expect`` must come in this order (others may come between); an ``error``
        is a deviation unless ``errors_ok``.
        """
        assert self.client is not None
        self.step = step
        ends = (until,) if isinstance(until, str) else tuple(until)
        seen: list[Any] = []
        types: list[str] = []  # of every event, those the client machine refused too
        with trio.move_on_after(timeout if timeout is not None else self.timeout):
            async for event, _ in self.client:
                self.flow.events += 1
                if isinstance(event, RemoteProtocolError):
                    # Noted by the session; it came, so it is not missing as well.
                    types.append(event.event_type or "?")
                    continue
                seen.append(event)
                types.append(event.type)
                if isinstance(event, ev.ErrorEvent) and not errors_ok:
                    error = event.error
                    self.note("error", f"{error.code}: {error.message}", "error")
                if event.type in ends:
                    break
            else:
                self.note("connection", "the server closed the connection", None)
                return seen
        if not seen or seen[-1].type not in ends:
            if timeout is None:
                owed = " or ".join(ends)
                self.note("timeout", f"no {owed} within {self.timeout} s", owed)
            return seen
        self._in_order(step, types, expect)
        return seen

    def _in_order(self, step: str, types: list[str], expect: Sequence[str]) -> None:
        at = 0
        for wanted in expect:
            try:
                at = types.index(wanted, at) + 1
            except ValueError:
                after = f" after {types[at - 1]}" if at else ""
                came = ", ".join(types[:MAX_SHOWN]) + (", ..." if len(types) > MAX_SHOWN else "")
                self.note("missing", f"expected {wanted}{after}; came: {came}", wanted)
                return


Flow = Callable[[Conversation], Awaitable[None]]


async def run_flow(
    url: str, api_key: str | None, dialect: ev.Dialect, name: str, flow: Flow, timeout: float
) -> FlowResult:
    result = FlowResult(name)
    conversation = Conversation(result, dialect, timeout)
    started = time.monotonic()
    try:
        async with connect(
            url, api_key=api_key, dialect=dialect, session=conversation.session, ping_interval=None
        ) as client:
            conversation.client = client
            await conversation.take("connect", "session.created", ["session.created"])
            await flow(conversation)
            await client.aclose()
    except HandshakeError as exc:
        conversation.note("connection", f"the handshake failed: {exc}")
    except ConnectionClosedError as exc:
        conversation.note("connection", f"the connection broke: {exc}")
    result.seconds = round(time.monotonic() - started, 3)
    return result


async def run_check(
    url: str,
    *,
    dialect: ev.Dialect = "ga",
    api_key: str | None = None,
    timeout: float = 10.0,
    only: Sequence[str] = (),
) -> Report:
    """Hold every flow (or those named in ``only``) against ``url``; the report of what deviated."""
    from .check_flows import FLOWS

    report = Report(url, dialect)
    for name, flow in FLOWS.items():
        if only and name not in only:
            continue
        report.flows.append(await run_flow(url, api_key, dialect, name, flow, timeout))
    return report


def format_report(report: Report) -> str:
    """The report for a person: one line a flow, then its deviations with step and event."""
    lines = [f"rtcore check {report.url} ({report.dialect} dialect)"]
    width = max((len(f.name) for f in report.flows), default=4)
    for flow in report.flows:
        verdict = "ok" if flow.passed else f"FAIL ({len(flow.deviations)})"
        lines.append(
            f"  {flow.name:<{width}}  {verdict:<9} {flow.events:4} events  {flow.seconds:.2f} s"
        )
        for d in flow.deviations:
            event = f" [{d.event}]" if d.event else ""
            times = f" (x{d.count})" if d.count > 1 else ""
            lines.append(f"      step {d.step}: {d.kind}{event}{times}: {d.detail}")
    failed = [f for f in report.flows if not f.passed]
    if failed:
        lines.append(
            f"not conformant: {len(report.deviations)} deviation(s) in "
            f"{len(failed)} of {len(report.flows)} flows"
        )
    else:
        lines.append(f"conformant: {len(report.flows)} flows passed")
    return "\n".join(lines)
