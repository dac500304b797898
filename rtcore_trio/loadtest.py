"""``rtcore loadtest``: N concurrent Realtime sessions against an endpoint, measured.

Each session is a ``rtcore.wire.ClientConnection`` (the sans-IO client: it
checks every event it sends and decodes every event it gets, in either
dialect) over a ``loadtest_link.Link`` (a plain socket read and written with
``os.read``/``os.write``, or TLS for ``wss://``). One ``loadtest_link.Poller``
task reads every plain socket (one epoll set, on Linux); elsewhere, and for
TLS, each session has a small reading task. Audio is paced in real time by a
few shared ``Pacer`` tasks, each sending one frame to each of its sessions
every ``frame_ms`` on the audio clock (a microphone's pace), so that a
thousand sessions cost a few timers, not a thousand; the frames are built once
per scenario turn and shared by every session. Once every session is up, the
heap is frozen for the garbage collector (``_Run.settle``).

What is measured, and how, is ``rtcore_trio.loadtest_metrics`` (sans-IO); what
the users say is ``rtcore_trio.loadtest_scenario``. The generator never opens
more than ``sessions`` connections (one each, no reconnect) and stops by
itself ``duration`` seconds after the first session started; then it closes
every session with 1000 and waits a moment for the close handshakes. A
server that refuses, fails or drops sessions is counted (HTTP status, error
codes, close codes), never a crash of the generator.
"""

from __future__ import annotations

import gc
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import trio

from rtcore import events as ev
from rtcore.errors import LocalProtocolError, ProtocolError
from rtcore.wire import ClientConnection, Connected, ConnectionClosed, HandshakeFailed, Rejected

from .loadtest_link import Link, PlainLink, Poller, open_link
from .loadtest_metrics import Recorder, SessionTimeline, error_code, percentiles
from .loadtest_scenario import (
    RATE,
    Scenario,
    Turn,
    audio_frames,
    client_event,
    session_update,
    user_text,
)

__all__ = ["LoadOptions", "run_load", "Pacer", "PACER_GROUPS"]

PACER_GROUPS = 20
"""Pacing tasks at most; their ticks are spread over the frame period so sends do not bunch."""
_AUDIO_DELTAS = frozenset({"response.output_audio.delta", "response.audio.delta"})


@dataclass(frozen=True)
class LoadOptions:
    """One run's parameters (what ``rtcore loadtest`` takes on its command line)."""

    url: str
    sessions: int
    duration: float
    scenario: Scenario
    ramp: float = 0.0
    dialect: ev.Dialect = "ga"
    api_key: str | None = None
    frame_ms: int = 20
    interval: float = 1.0
    turn_timeout: float = 30.0
    silence_duration_ms: int = 200
    ssl_context: ssl.SSLContext | None = None  # wss://: the system's trust store by default

    def __post_init__(self) -> None:
        if self.sessions < 1:
            raise ValueError(f"--sessions must be at least 1, not {self.sessions}")
        if not self.duration > 0 or self.ramp < 0 or self.ramp > self.duration:
            raise ValueError("--duration must be positive and --ramp from 0 to the duration")
        if not 10 <= self.frame_ms <= 1000 or self.frame_ms % 10:
            raise ValueError(
                f"--frame-ms must be a multiple of 10 from 10 to 1000: {self.frame_ms}"
            )
        ClientConnection(self.url)  # the URL's checks: ws:// or wss://, a host

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "sessions": self.sessions,
            "duration_s": self.duration,
            "ramp_s": self.ramp,
            "scenario": self.scenario.name,
            "turns": [t.kind for t in self.scenario.turns],
            "dialect": self.dialect,
            "frame_ms": self.frame_ms,
            "interval_s": self.interval,
            "silence_duration_ms": self.silence_duration_ms,
        }


# -- audio on the audio clock ---------------------------------------------------------------------


@dataclass(slots=True)
class _Playing:
    """A session's audio under way: its frames, where it is, and who waits for the end."""

    session: _Session
    frames: list[bytes]
    speech_frames: int
    done: trio.Event = field(default_factory=trio.Event)
    position: int = 0


class Pacer:
    """Sends every playing session its next frame each ``frame_s``, in ``PACER_GROUPS`` groups."""

    def __init__(self, recorder: Recorder, frame_s: float, groups: int) -> None:
        self.recorder = recorder
        self.frame_s = frame_s
        self.groups: list[dict[int, _Playing]] = [{} for _ in range(groups)]

    def play(self, session: _Session, frames: list[bytes], speech_frames: int) -> trio.Event:
        playing = _Playing(session, frames, speech_frames)
        self.groups[session.timeline.index % len(self.groups)][session.timeline.index] = playing
        return playing.done

    async def run(self, group: int, start: float) -> None:
        mine = self.groups[group]
        phase = start + self.frame_s * group / len(self.groups)
        n = 0
        while True:
            due = phase + n * self.frame_s
            n += 1
            await trio.sleep_until(due)
            # The hot loop of the generator (one pass per frame of every session): the clock
            # is read once per tick, and when a turn's speech ends.
            finished = []
            for key, playing in mine.items():
                session = playing.session
                position = playing.position
                if position == playing.speech_frames:
                    session.timeline.speech_ended(trio.current_time())
                if not session.send_now(playing.frames[position]):
                    # The server has not taken the last frames yet: a microphone does not
                    # wait, so this frame is lost, and counted (the server's fault, not ours).
                    session.timeline.error(trio.current_time(), "audio_send_blocked")
                playing.position = position = position + 1
                if position == len(playing.frames) or session.closed:
                    finished.append(key)
            if mine:
                # The last frame of the tick left latest: that is the tick's lag.
                now = trio.current_time()
                self.recorder.frame_lag(now, now - due)
            for key in finished:
                mine.pop(key).done.set()


# -- one session ----------------------------------------------------------------------------------


class _Session:
    def __init__(self, run: _Run, timeline: SessionTimeline) -> None:
        self.run = run
        self.timeline = timeline
        self.conn = ClientConnection(
            run.options.url, api_key=run.options.api_key, dialect=run.options.dialect
        )
        self.link: Link | None = None
        self.settled = trio.Event()  # the handshake is over, one way or the other
        self.changed = trio.Event()  # set on every response.done and on close
        self.done_count = 0
        self.created_count = 0
        self.calls: list[str] = []  # call_ids of the last response's function calls
        # The audio of the latest response: its item, when it began, how much came (ms).
        self.audio_item: str | None = None
        self.audio_began: float | None = None
        self.audio_ms = 0.0
        self.interrupting = False  # speaking over an answer: truncate it on speech_started
        self.closed = False
        self.closing = False

    def send_now(self, data: bytes) -> bool:
        """Hand ``data`` to the link without waiting (True when closed: nothing to do)."""
        return self.closed or self.link is None or self.link.send_now(data)

    async def write(self, data: bytes) -> None:
        if not self.closed and self.link is not None:
            await self.link.write(data)

    async def send(self, event: ev.ClientEvent) -> None:
        if self.closed:
            return  # the server ended the session: nothing more to say
        try:
            data = self.conn.send(event)
        except LocalProtocolError as err:
            self.timeline.error(trio.current_time(), f"refused_by_client_{err.code}")
            return
        await self.write(data)

    async def read(self) -> None:
        """Everything the server sends, until the connection ends (without a ``Poller``)."""
        assert self.link is not None
        while not self.conn.closed:
            data = await self.link.receive()
            self.received(data)
            if not data:
                break

    def received(self, data: bytes) -> None:
        """Bytes from the server (``b""``: the connection ended): the events they complete."""
        conn, link = self.conn, self.link
        assert link is not None
        conn.receive_data(data)
        now = trio.current_time()
        for event in conn.events():
            self._take(now, event)
        out = conn.data_to_send()  # a pong, or the answer to the server's close
        if out and not link.send_now(out):
            self.run.nursery.start_soon(link.write, out)
        if not data and not self.closed:  # the transport ended without a close handshake
            self._close(trio.current_time(), 1006, True)
        if conn.closed and self.run.poller is not None and isinstance(link, PlainLink):
            self.run.poller.discard(link)

    def abandon(self) -> None:
        """Give the session up (its handshake took too long): whatever comes later is ignored."""
        self._close(trio.current_time(), None, False)

    def _take(self, now: float, event: Any) -> None:
        if self.closed:
            return  # abandoned: a handshake answered after its timeout is not counted
        if isinstance(event, ev.ServerEvent):
            kind = event.type
            self.timeline.event(now, kind, error_code(event))
            if kind == "response.done":
                self._response_done(event)
            elif kind in _AUDIO_DELTAS:
                self._audio(now, event)
            elif kind == "response.created":
                self.created_count += 1
                self.audio_item, self.audio_began, self.audio_ms = None, None, 0.0
            elif kind == "input_audio_buffer.speech_started" and self.interrupting:
                self._truncate(now)
        elif isinstance(event, ev.UnknownEvent):
            self.timeline.event(now, str(event.payload.get("type", "unknown")))
        elif isinstance(event, ProtocolError):
            self.timeline.event(now, "error", f"protocol_{event.code}")
        elif isinstance(event, Connected):
            self.timeline.connected(now)
            self.settled.set()
        elif isinstance(event, Rejected):
            self.timeline.rejected(now, event.status_code)
            self._close(now, None, True)
        elif isinstance(event, HandshakeFailed):
            self.timeline.failed(now, "handshake_failed")
            self._close(now, None, True)
        elif isinstance(event, ConnectionClosed):
            self._close(now, event.code, event.initiator != "local" or not self.closing)

    def _audio(self, now: float, event: Any) -> None:
        if self.audio_began is None:
            self.audio_item, self.audio_began = str(event.item_id), now
            self._signal()
        self.audio_ms += len(event.delta) / (RATE * 2 / 1000)  # pcm16: 48 bytes a ms

    def _truncate(self, now: float) -> None:
        """The user spoke over the answer: cut it where it was heard (playback in real time)."""
        self.interrupting = False
        if self.audio_item is None or self.audio_began is None:
            return
        heard = int(min(1000 * (now - self.audio_began), self.audio_ms))
        self.timeline.barged_in(now)
        cut = {"item_id": self.audio_item, "content_index": 0, "audio_end_ms": heard}
        event = client_event({"type": "conversation.item.truncate", **cut}, self.conn.dialect)
        self.run.nursery.start_soon(self.send, event)

    def _signal(self) -> None:
        self.changed.set()
        self.changed = trio.Event()

    def _response_done(self, event: Any) -> None:
        output = getattr(getattr(event, "response", None), "output", None) or ()
        self.calls = [
            str(item.call_id) for item in output if getattr(item, "type", "") == "function_call"
        ]
        self.done_count += 1
        self._signal()

    def _close(self, now: float, code: int | None, by_server: bool) -> None:
        if code is not None:
            self.timeline.closed(now, code, by_server)
        self.closed = True
        self.settled.set()
        self.changed.set()

    def next_done(self) -> int:
        """The ``done_count`` that ends the answer to what is sent next (after any under way)."""
        return self.done_count + max(0, self.created_count - self.done_count) + 1

    async def until_done(self, count: int, barge_in: float | None = None) -> bool:
        """Wait for the ``count``-th ``response.done``; False on timeout or close.

        With ``barge_in``, wait only until that answer's audio began, then that
        many seconds more (or until it is done, if it has no audio); the user
        then speaks over it.
        """
        with trio.move_on_after(self.run.options.turn_timeout):
            while self.done_count < count and not self.closed:
                if barge_in is not None and self.audio_began is not None:
                    if self.created_count >= count:  # the audio of this very answer
                        await trio.sleep(barge_in)
                        self.interrupting = True
                        return not self.closed
                await self.changed.wait()
            return not self.closed and self.done_count >= count
        self.timeline.timed_out(trio.current_time(), "response")
        return False


# -- the run ---------------------------------------------------------------------------------------


class _Run:
    def __init__(self, options: LoadOptions, recorder: Recorder, nursery: trio.Nursery) -> None:
        self.options = options
        self.recorder = recorder
        self.nursery = nursery
        groups = min(PACER_GROUPS, options.sessions)
        self.pacer = Pacer(recorder, options.frame_ms / 1000, groups)
        self.frames = {
            i: audio_frames(t.audio, options.scenario.silence_ms, options.frame_ms)
            for i, t in enumerate(options.scenario.turns)
            if t.audio is not None
        }
        self.sessions: list[_Session] = []
        o = options
        self.update = session_update(o.scenario, o.dialect, o.silence_duration_ms)  # for all
        # One task reads every plain socket where epoll exists; else a task per session.
        self.poller = Poller() if Poller.available else None

    async def session(self, session: _Session, start_at: float) -> None:
        await trio.sleep_until(start_at)
        timeline, url = session.timeline, session.conn
        timeline.connecting(trio.current_time())
        try:
            with trio.fail_after(self.options.turn_timeout):
                session.link = await open_link(
                    url.host, url.port, url.secure, self.nursery, self.options.ssl_context
                )
        except (OSError, trio.TooSlowError) as err:
            reason = "connect_timeout" if isinstance(err, trio.TooSlowError) else "connect_failed"
            timeline.failed(trio.current_time(), reason)
            session.settled.set()
            return
        link = session.link
        if self.poller is not None and isinstance(link, PlainLink):
            self.poller.add(link, session.received)
        else:
            self.nursery.start_soon(session.read)
        await session.write(session.conn.data_to_send())
        with trio.move_on_after(self.options.turn_timeout):
            await session.settled.wait()
        if not session.settled.is_set():  # a server too busy to answer the handshake
            timeline.timed_out(trio.current_time(), "handshake")
            session.abandon()
            return
        if session.closed:
            return
        await session.send(self.update)
        turns = self.options.scenario.turns
        index = 0
        while not session.closed:
            turn, after = turns[index], turns[(index + 1) % len(turns)]
            # A user who barges in next waits only for this answer's audio to begin; one
            # whose answer never came (a timeout, counted) goes on with the next turn.
            await self.turn(session, index, turn, after.barge_in_s)
            if after.barge_in_s is None and not session.closed:
                await trio.sleep(turn.think_s)
            index = (index + 1) % len(turns)

    async def turn(
        self, session: _Session, index: int, turn: Turn, barge_in: float | None = None
    ) -> bool:
        """Play one turn and wait for its answer (see ``until_done``); False if none came."""
        dialect = self.options.dialect
        if turn.audio is not None:
            frames, speech = self.frames[index]
            count = session.next_done()
            await self.pacer.play(session, frames, speech).wait()
            return await session.until_done(count, barge_in)
        assert turn.say is not None
        await session.send(client_event(user_text(turn.say), dialect))
        if turn.tool_output is None:
            return await self._respond(session, barge_in)
        if not await self._respond(session):
            return False
        for call_id in session.calls:
            output = {
                "type": "function_call_output",
                "call_id": call_id,
                "output": turn.tool_output,
            }
            item = {"type": "conversation.item.create", "item": output}
            await session.send(client_event(item, dialect))
        return await self._respond(session, barge_in)

    async def _respond(self, session: _Session, barge_in: float | None = None) -> bool:
        count = session.next_done()
        session.timeline.request_sent(trio.current_time())
        await session.send(client_event({"type": "response.create"}, self.options.dialect))
        return await session.until_done(count, barge_in)

    async def settle(self, ramp_end: float) -> None:
        """Once every session started and settled its handshake, ``gc.freeze()`` the heap.

        Python's full collections walk every object the run holds (a thousand
        connections' worth): a pause of a tenth of a second that would hold
        every session's audio back. Frozen, the run's long-lived objects are
        left out of them; ``run_load`` unfreezes the heap when it ends.
        """
        await trio.sleep_until(ramp_end)
        for session in self.sessions:
            await session.settled.wait()
        gc.freeze()

    async def monitor(self, progress: Callable[[dict[str, Any]], None] | None) -> None:
        """Every interval: the generator's CPU share, and a progress report."""
        interval = self.options.interval
        cpu, wall = time.process_time(), trio.current_time()
        while True:
            await trio.sleep_until(wall + interval)
            now = trio.current_time()
            share = (time.process_time() - cpu) / (now - wall)
            cpu, wall = time.process_time(), now
            self.recorder.cpu(now, share)
            if progress is not None:
                progress(self.status(now))

    def status(self, now: float) -> dict[str, Any]:
        r = self.recorder
        last = r.at(now - r.interval)
        delta = percentiles(last.samples.get("first_delta", []))
        return {
            "elapsed_s": round(now - r.start, 1),
            "sessions_up": r.up,
            "sessions": self.options.sessions,
            "events_per_s": round(last.events / r.interval),
            "p99_first_delta_ms": None if delta is None else round(delta.p99 * 1000, 1),
            "errors": sum(r.errors.values()),
            "cpu": last.cpu,
            "generator_bound": last.generator_bound(),
        }


async def run_load(
    options: LoadOptions, progress: Callable[[dict[str, Any]], None] | None = None
) -> dict[str, Any]:
    """Run the load; the parameters and every figure, ready for JSON."""
    try:
        return await _load(options, progress)
    finally:
        gc.unfreeze()  # however the run ended (see ``_Run.settle``)


async def _load(
    options: LoadOptions, progress: Callable[[dict[str, Any]], None] | None
) -> dict[str, Any]:
    start = trio.current_time()
    recorder = Recorder(start, options.interval)
    async with trio.open_nursery() as nursery:
        run = _Run(options, recorder, nursery)
        nursery.start_soon(run.monitor, progress)
        if run.poller is not None:
            nursery.start_soon(run.poller.run)
        nursery.start_soon(run.settle, start + options.ramp)
        with trio.move_on_at(start + options.duration):
            async with trio.open_nursery() as paced:  # audio stops with the run
                for group in range(len(run.pacer.groups)):
                    paced.start_soon(run.pacer.run, group, start)
                async with trio.open_nursery() as users:
                    for i in range(options.sessions):
                        session = _Session(run, recorder.session())
                        run.sessions.append(session)
                        at = start + options.ramp * i / options.sessions
                        users.start_soon(run.session, session, at)
                paced.cancel_scope.cancel()  # every session ended before the duration
        for session in run.sessions:
            session.closing = True
            if session.conn.accepted and not session.closed:
                data = session.conn.close(1000)
                if data:
                    nursery.start_soon(session.write, data)
        with trio.move_on_after(2.0):
            for session in run.sessions:
                if session.conn.accepted:
                    await session.settled.wait()
                    while not session.closed:
                        await session.changed.wait()
        nursery.cancel_scope.cancel()
    for session in run.sessions:
        if session.link is not None:
            await session.link.aclose()
    return {"parameters": options.to_dict(), **recorder.summary()}
