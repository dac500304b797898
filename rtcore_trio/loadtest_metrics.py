"""What ``rtcore loadtest`` measures, without I/O: per-session timelines from typed events.

The driver (``rtcore_trio.loadtest``) tells a ``Recorder`` what happened and when,
on one monotonic clock in seconds; nothing here reads a clock, a socket or a
task, so the arithmetic is tested with made-up times, and any driver (trio
here, gevent for Locust) can feed it. Each session has a ``SessionTimeline``:

* ``handshake``: from opening the TCP connection to the accepted WebSocket
  handshake (``Connected``); a refused one (``Rejected``) counts its HTTP status.
* ``speech_stopped``: from the end of the simulated user's speech (the moment
  its first frame of silence was sent, on the audio clock) to
  ``input_audio_buffer.speech_stopped``. Server VAD waits for
  ``silence_duration_ms`` of silence first, so that wait is a floor of this figure.
* ``first_delta``: from the end of a turn (end of speech, or the
  ``response.create`` of a text or tool turn) to the first delta of the
  response it caused (text, audio, transcript or function-call arguments);
  ``first_audio``: to the first audio delta.
* ``response``: from ``response.created`` to ``response.done``.

When the user speaks over an answer (barge-in), what is left of the
interrupted response (its last deltas, its ``response.done``) belongs to no
turn: only a response created after the turn ended counts as its answer.

Also counted: ``error`` events by code, failed responses (``error_code``), close codes (the server's; 1006 when
the connection dropped without a close handshake), refused handshakes by HTTP
status, failed connections, and every received event by type. Each figure is
also kept per interval (``interval`` seconds from ``start``) and per session, with the
generator's own lag (how late its paced audio frames left) and CPU share, so
that an interval where the generator, not the server, was the bottleneck is
marked as such (``GENERATOR_LAG_P99`` or ``GENERATOR_CPU``).
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "METRICS",
    "GENERATOR_LAG_P99",
    "GENERATOR_CPU",
    "Percentiles",
    "percentiles",
    "Interval",
    "Recorder",
    "SessionTimeline",
    "counts_line",
    "error_code",
    "HISTOGRAM_EDGES_MS",
    "histogram",
]

METRICS = ("handshake", "speech_stopped", "first_delta", "first_audio", "response")
"""The latencies measured, in seconds (reported in milliseconds)."""

GENERATOR_LAG_P99 = 0.020
"""An interval where the generator's frames left this late (p99) says nothing about the server."""
GENERATOR_CPU = 0.90
"""Nor does one where the generator used this share of its core."""

_DELTAS = frozenset(
    {
        "response.output_text.delta",
        "response.text.delta",
        "response.output_audio.delta",
        "response.audio.delta",
        "response.output_audio_transcript.delta",
        "response.audio_transcript.delta",
        "response.function_call_arguments.delta",
    }
)
_AUDIO_DELTAS = frozenset({"response.output_audio.delta", "response.audio.delta"})


HISTOGRAM_EDGES_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)
"""Upper edges of the distributions' bins in ms (the last bin holds everything slower)."""


def histogram(samples: Iterable[float]) -> list[int]:
    """How many of ``samples`` (seconds) fall in each bin of ``HISTOGRAM_EDGES_MS``, plus one."""
    counts = [0] * (len(HISTOGRAM_EDGES_MS) + 1)
    for seconds in samples:
        counts[bisect.bisect_left(HISTOGRAM_EDGES_MS, seconds * 1000)] += 1
    return counts


@dataclass(frozen=True)
class Percentiles:
    """Nearest-rank percentiles of one metric's samples, in seconds."""

    count: int
    p50: float
    p90: float
    p99: float
    max: float

    def to_ms(self) -> dict[str, float | int]:
        return {
            "count": self.count,
            **{k: round(getattr(self, k) * 1000, 3) for k in ("p50", "p90", "p99", "max")},
        }


def percentiles(samples: Iterable[float]) -> Percentiles | None:
    """p50/p90/p99/max of ``samples`` by nearest rank; ``None`` when there are none."""
    ordered = sorted(samples)
    if not ordered:
        return None
    n = len(ordered)

    def rank(q: float) -> float:
        return ordered[max(0, math.ceil(q * n) - 1)]

    return Percentiles(n, rank(0.50), rank(0.90), rank(0.99), ordered[-1])


@dataclass
class Interval:
    """What happened in one interval of the run."""

    index: int
    samples: dict[str, list[float]] = field(default_factory=dict)
    events: int = 0
    errors: int = 0
    lag: list[float] = field(default_factory=list)
    cpu: float | None = None
    sessions: int = 0  # sessions up at the end of the interval

    def generator_bound(self) -> bool:
        """The generator, not the server, held this interval back."""
        lag = percentiles(self.lag)
        return (lag is not None and lag.p99 > GENERATOR_LAG_P99) or (
            self.cpu is not None and self.cpu > GENERATOR_CPU
        )


class Recorder:
    """All sessions' figures, overall and per interval, from ``start`` on."""

    def __init__(self, start: float, interval: float = 1.0) -> None:
        if not interval > 0:
            raise ValueError(f"the interval must be positive, not {interval!r}")
        self.start = start
        self.interval = interval
        self.intervals: list[Interval] = []
        self.samples: dict[str, list[float]] = {name: [] for name in METRICS}
        self.events: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.close_codes: Counter[int] = Counter()
        self.rejected: Counter[int] = Counter()
        self.failed: Counter[str] = Counter()
        self.lag: list[float] = []
        self.sessions: list[SessionTimeline] = []
        self.up = 0
        self.barge_ins = 0
        self.per_session = True  # each session's own percentiles and events by type, too

    def session(self) -> SessionTimeline:
        timeline = SessionTimeline(self, len(self.sessions))
        self.sessions.append(timeline)
        return timeline

    def at(self, now: float) -> Interval:
        index = max(0, int((now - self.start) // self.interval))
        while len(self.intervals) <= index:
            self.intervals.append(Interval(len(self.intervals), sessions=self.up))
        return self.intervals[index]

    def sample(self, now: float, metric: str, seconds: float) -> None:
        self.samples[metric].append(seconds)
        self.at(now).samples.setdefault(metric, []).append(seconds)

    def count_error(self, now: float, code: str) -> None:
        """An error of ``code`` in some session (a subclass may also report it elsewhere)."""
        self.errors[code] += 1
        self.at(now).errors += 1

    def frame_lag(self, now: float, seconds: float) -> None:
        """A paced frame left ``seconds`` after it was due."""
        self.lag.append(seconds)
        self.at(now).lag.append(seconds)

    def cpu(self, now: float, share: float) -> None:
        """The generator's CPU time over the interval ending at ``now``, as a share of a core."""
        self.at(now - self.interval / 2).cpu = share

    def _up(self, now: float, change: int) -> None:
        self.up += change
        self.at(now).sessions = self.up

    # -- results ------------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """Every figure of the run, ready for JSON (latencies in milliseconds)."""
        overall = {m: _ms(percentiles(s)) for m, s in self.samples.items()}
        bound = [i.index for i in self.intervals if i.generator_bound()]
        lag = percentiles(self.lag)
        return {
            "latency_ms": overall,
            "histograms": {
                "edges_ms": list(HISTOGRAM_EDGES_MS),
                **{m: histogram(s) for m, s in self.samples.items()},
            },
            "errors": dict(self.errors.most_common()),
            "close_codes": {str(c): n for c, n in sorted(self.close_codes.items())},
            "rejected": {str(c): n for c, n in sorted(self.rejected.items())},
            "failed": dict(self.failed.most_common()),
            "dropped": self.close_codes.get(1006, 0),
            "barge_ins": self.barge_ins,
            "events": dict(self.events.most_common()),
            "generator": {
                "lag_ms": _ms(lag),
                "bound_intervals": bound,
                "verdict": _verdict(bound, len(self.intervals)),
            },
            "intervals": [self._interval(i) for i in self.intervals],
            "sessions": [s.summary() for s in self.sessions],
        }

    def _interval(self, interval: Interval) -> dict[str, Any]:
        lag = percentiles(interval.lag)
        return {
            "t": round(interval.index * self.interval, 3),
            "sessions": interval.sessions,
            "events_per_s": round(interval.events / self.interval, 1),
            "errors": interval.errors,
            "latency_ms": {m: _ms(percentiles(s)) for m, s in interval.samples.items()},
            "lag_p99_ms": None if lag is None else round(lag.p99 * 1000, 3),
            "cpu": None if interval.cpu is None else round(interval.cpu, 3),
            "generator_bound": interval.generator_bound(),
        }


def _ms(value: Percentiles | None) -> dict[str, float | int] | None:
    return None if value is None else value.to_ms()


def _verdict(bound: list[int], intervals: int) -> str:
    if not bound:
        return "the generator kept its schedule: the figures are the server's"
    return (
        f"the generator was the bottleneck in {len(bound)} of {intervals} intervals"
        " (its frames left late or it used its whole core): those figures are not the server's;"
        " run fewer sessions per generator or more generators"
    )


class SessionTimeline:
    """One session's figures: tell it what happened, with the time it happened."""

    def __init__(self, recorder: Recorder, index: int) -> None:
        self.recorder = recorder
        self.index = index
        self.opened: float | None = None
        self.handshake: float | None = None
        self.up = False
        self.close_code: int | None = None
        self.turns = 0
        self.responses = 0
        self.barge_ins = 0
        self.errors: Counter[str] = Counter()
        self.events = 0
        # This session's own samples and events by type, unless the recorder keeps none
        # (Locust's users report each figure as it comes, for hours).
        self.samples: dict[str, list[float]] = {}
        self.kinds: Counter[str] = Counter()
        self._turn_end: float | None = None  # the end of the user's turn awaiting its answer
        self._speech_end: float | None = None  # awaiting speech_stopped
        self._delta_seen = False
        self._audio_seen = False
        self._answering = False  # the response under way was created after the turn ended
        self._created: float | None = None

    def connecting(self, now: float) -> None:
        self.opened = now

    def connected(self, now: float) -> None:
        if self.opened is not None:
            self.handshake = now - self.opened
            self._sample(now, "handshake", self.handshake)
        self.up = True
        self.recorder._up(now, +1)

    def rejected(self, now: float, status: int) -> None:
        self.recorder.rejected[status] += 1
        self.error(now, f"http_{status}")

    def failed(self, now: float, reason: str) -> None:
        """The connection could not be made or its handshake not understood."""
        self.recorder.failed[reason] += 1
        self.error(now, reason)

    def closed(self, now: float, code: int, by_server: bool) -> None:
        """The connection ended; ``by_server`` when the generator did not start the close."""
        if self.close_code is not None:
            return
        self.close_code = code
        if by_server:
            self.recorder.close_codes[code] += 1
            if code not in (1000, 1001):
                self.error(now, f"close_{code}")
        if self.up:
            self.up = False
            self.recorder._up(now, -1)

    def speech_ended(self, now: float) -> None:
        """The simulated user stopped speaking (its first frame of silence went out)."""
        self._speech_end = now
        self._answer_due(now)

    def request_sent(self, now: float) -> None:
        """A ``response.create`` ends a text or tool turn."""
        self._answer_due(now)

    def _answer_due(self, now: float) -> None:
        self.turns += 1
        self._turn_end = now
        self._delta_seen = self._audio_seen = self._answering = False

    def event(self, now: float, kind: str, error_code: str | None = None) -> None:
        """A server event of type ``kind`` arrived, with the error it counts as (``error_code``)."""
        self.events += 1
        if self.recorder.per_session:
            self.kinds[kind] += 1
        self.recorder.events[kind] += 1
        self.recorder.at(now).events += 1
        if kind in _DELTAS:
            # Only the answer to the turn counts: not the rest of one it interrupted (barge-in).
            if not self._answering or self._turn_end is None:
                return
            if not self._delta_seen:
                self._delta_seen = True
                self._sample(now, "first_delta", now - self._turn_end)
            if kind in _AUDIO_DELTAS and not self._audio_seen:
                self._audio_seen = True
                self._sample(now, "first_audio", now - self._turn_end)
        elif kind == "input_audio_buffer.speech_stopped":
            if self._speech_end is not None:
                self._sample(now, "speech_stopped", now - self._speech_end)
                self._speech_end = None
        elif kind == "response.created":
            self._created = now
            self._answering = self._turn_end is not None
        elif kind == "response.done":
            self.responses += 1
            if error_code is not None:  # a failed response (see ``error_code``)
                self.error(now, error_code)
            if self._created is not None:
                self._sample(now, "response", now - self._created)
                self._created = None
            if self._answering:  # else it is one the user interrupted: the turn still waits
                self._turn_end = None
                self._answering = False
        elif kind == "error":
            self.error(now, error_code or "unknown")

    def _sample(self, now: float, metric: str, seconds: float) -> None:
        if self.recorder.per_session:
            self.samples.setdefault(metric, []).append(seconds)
        self.recorder.sample(now, metric, seconds)

    def barged_in(self, now: float) -> None:
        """The user spoke over an answer (and cut its audio where it was heard)."""
        self.barge_ins += 1
        self.recorder.barge_ins += 1

    def timed_out(self, now: float, what: str) -> None:
        """The generator gave up waiting for ``what`` (counted as an error of its own)."""
        self.error(now, f"timeout_{what}")
        self._turn_end = None

    def error(self, now: float, code: str) -> None:
        """Count an error of ``code`` (also the generator's own: a frame it could not send)."""
        self.errors[code] += 1
        self.recorder.count_error(now, code)

    def summary(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "handshake_ms": None if self.handshake is None else round(self.handshake * 1000, 3),
            "turns": self.turns,
            "responses": self.responses,
            "barge_ins": self.barge_ins,
            "events": self.events,
            "events_by_type": dict(self.kinds.most_common()),
            "latency_ms": {m: _ms(percentiles(s)) for m, s in self.samples.items()},
            "errors": dict(self.errors),
            "close_code": self.close_code,
        }


def error_code(event: Any) -> str | None:
    """The error a server event counts as: an ``error`` event's code, or a failed response's.

    An ``error`` event counts under its ``code`` (its ``type`` when it has none);
    a ``response.done`` whose status is ``failed`` under ``response_failed_`` and
    its error's code (``response_failed`` alone when it names none). A cancelled
    or incomplete response is no error: the user barged in, or a limit ended it.
    """
    if event.type == "error":
        error = event.error
        return error.code if isinstance(error.code, str) else str(error.type)
    if event.type == "response.done" and getattr(event.response, "status", None) == "failed":
        details = getattr(event.response, "status_details", None)
        failure = getattr(details, "error", None)
        code = getattr(failure, "code", None) or getattr(failure, "type", None)
        return f"response_failed_{code}" if isinstance(code, str) else "response_failed"
    return None


def counts_line(counts: Mapping[str, int]) -> str:
    """``a 3, b 1`` (``none`` when empty): for the summary table."""
    return ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"
