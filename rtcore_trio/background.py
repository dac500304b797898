"""A Realtime server in a background thread, for tests: ``RealtimeTestServer``.

The server runs on a trio loop of its own in a daemon thread, so the code
under test can be anything: an asyncio app on the official ``openai`` SDK, a
trio app, synchronous code. The test thread talks to the loop only through
its ``TrioToken`` (stop, a new script), which any thread may use, a trio
test's own loop too; what the server records is
appended by the loop and read by the test as copies.

Every connection is tapped: the ``ServerConnection`` of each session records
the client events it decodes and the server messages it frames, in order, so
that ``transcript()`` shows both directions and ``snapshot()`` replays the
server's side into a ``ClientSession`` (the conversation as the server told
it; the client and server snapshots agree on everything but the audio
policy). Two hooks can change what passes, for tests of other clients and of
checkers: ``outgoing`` may rewrite or drop (``None``) each server message,
``incoming`` may drop (``False``) each client event. ``rtcore check``'s tests
build their broken servers with them.

The assertions (``assert_received``, ``assert_sent``, ``assert_no_errors``)
fail with what was expected, what came, and where.

Faults are ``rtcore serve --fault``'s (``faults.py``): ``fault(spec)`` sets
them on the running server for the connections opened after. A session can
be saved as a cassette (``save_cassette``, ``rtcore relay --record``'s
format, ``relay_record.Recorder``), and ``CassetteTestServer`` plays one
back (``cassette.CassetteServer``, tapped like the other) for the
``realtime_cassette`` fixture.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Self

import msgspec
import trio

from rtcore import ClientSession
from rtcore import events as ev
from rtcore.state import Snapshot
from rtcore.wire import HandshakeRequest, ServerConnection
from rtcore_sim import EchoBackend, EchoTranscriber, Scenario, ScriptBackend, Turn

from .cassette import CassetteServer, Divergence, read_playable_cassette
from .faults import Fault, parse_fault
from .relay_record import Recorder
from .server import RealtimeServer

__all__ = ["CassetteTestServer", "RealtimeTestServer", "Exchange", "TEST_API_KEY"]

TEST_API_KEY = "sk-rtcore-test"
"""The key the test server accepts (any other is refused with 401, as OpenAI does)."""

Outgoing = Callable[[bytes], bytes | None]
Incoming = Callable[[ev.ClientEvent | ev.UnknownEvent], bool]


class Exchange(msgspec.Struct, frozen=True):
    """One event of a session's transcript: who sent it, its ``type``, and the event itself."""

    direction: Literal["client", "server"]
    type: str
    event: Any
    """The typed event (``UnknownEvent`` for a type the dialect does not know)."""

    def __str__(self) -> str:
        arrow = "->" if self.direction == "client" else "<-"
        return f"{arrow} {self.type}"


class _Session:
    """What one connection carried, both directions in order (with their times, for a cassette)."""

    def __init__(self, dialect: ev.Dialect, request: HandshakeRequest | None) -> None:
        self.dialect = dialect
        self.request = request
        self.started = time.monotonic()
        self.exchanges: list[Exchange] = []
        self.server_messages: list[bytes] = []
        self.messages: list[tuple[float, Literal["client", "server"], ev.ClientEvent | bytes]] = []


class _TappedConnection(ServerConnection):
    """A ``ServerConnection`` that records what it decodes and frames (and applies the hooks)."""

    def __init__(self, owner: RealtimeTestServer, **options: Any) -> None:
        super().__init__(**options)
        self._owner = owner
        self._record: _Session | None = None

    def _session(self) -> _Session:
        if self._record is None:
            self._record = _Session(self.dialect, self.request)
            self._owner._sessions.append(self._record)
        return self._record

    def events(self) -> Iterator[Any]:
        for event in super().events():
            if self.accepted and isinstance(event, ev.ClientEvent | ev.UnknownEvent):
                if not self._owner.incoming(event):
                    continue
                record = self._session()
                record.exchanges.append(Exchange("client", event.type, event))
                if isinstance(event, ev.ClientEvent):  # encoded only if a cassette is saved
                    record.messages.append((time.monotonic(), "client", event))
            yield event

    def send_message(self, payload: bytes) -> bytes:
        rewritten = self._owner.outgoing(payload)
        if rewritten is None:
            return b""
        record = self._session()
        record.server_messages.append(rewritten)
        record.messages.append((time.monotonic(), "server", rewritten))
        event = ev.decode_server_event(rewritten, dialect=record.dialect)
        record.exchanges.append(Exchange("server", event.type, event))
        return super().send_message(rewritten)


class _TappedServer(RealtimeServer):
    def __init__(self, owner: RealtimeTestServer, **options: Any) -> None:
        super().__init__(**options)
        self._owner = owner

    def _new_connection(self) -> ServerConnection:
        return _tapped(self, self._owner)


class _TappedCassetteServer(CassetteServer):
    def __init__(self, owner: RealtimeTestServer, cassette: Path, **options: Any) -> None:
        super().__init__(cassette, **options)
        self._owner = owner

    def _new_connection(self) -> ServerConnection:
        return _tapped(self, self._owner)


def _tapped(server: RealtimeServer, owner: RealtimeTestServer) -> ServerConnection:
    return _TappedConnection(
        owner,
        max_message_size=server.max_message_size,
        dialects=server.dialects,
        max_values=server.max_message_values,
    )


class RealtimeTestServer:
    """A local Realtime server on a background thread: ``start()``, use ``url``, ``stop()``.

    ``dialect`` is the one it serves (``"ga"`` or ``"beta"``; a client asking
    for the other is refused as OpenAI refuses it). ``api_key`` is the only
    key accepted. ``options`` go to ``RealtimeServer``. Also a context manager.
    """

    def __init__(
        self,
        dialect: ev.Dialect = "ga",
        *,
        api_key: str = TEST_API_KEY,
        outgoing: Outgoing | None = None,
        incoming: Incoming | None = None,
        **options: Any,
    ) -> None:
        self.dialect: ev.Dialect = dialect
        self.api_key = api_key
        self.outgoing: Outgoing = outgoing or (lambda message: message)
        self.incoming: Incoming = incoming or (lambda event: True)
        self._options = options
        self._sessions: list[_Session] = []
        self._server: RealtimeServer | None = None
        self._token: trio.lowlevel.TrioToken | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None

    # -- life -----------------------------------------------------------------------------------

    def start(self) -> Self:
        """Start serving on a free port of 127.0.0.1; returns once the port is bound."""
        if self._thread is not None:
            raise RuntimeError("the server is already started")
        self._thread = threading.Thread(target=self._run, name="rtcore-test-server", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._failure is not None:
            raise RuntimeError(f"the test server did not start: {self._failure}") from self._failure
        return self

    def _run(self) -> None:
        try:
            trio.run(self._main)
        except BaseException as exc:  # reported to the test thread, not lost in this one
            self._failure = exc
            self._ready.set()

    def _build(self, **options: Any) -> RealtimeServer:
        """The server to run, with the options every test server shares."""
        return _TappedServer(
            self,
            backend=EchoBackend(),
            transcriber=EchoTranscriber(),
            dialects=(self.dialect,),
            **options,
        )

    async def _main(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        server = self._build(
            api_keys=[self.api_key],
            seed=b"rtcore-test-server",
            close_timeout=1.0,
            **self._options,
        )
        async with trio.open_nursery() as nursery:
            await nursery.start(server.serve, "127.0.0.1", 0)
            self._server = server
            self._ready.set()

    def stop(self) -> None:
        """End every session (open responses get ``response.done``) and the thread."""
        if self._thread is None or self._token is None or self._server is None:
            return
        try:
            self._token.run_sync_soon(self._server.shutdown)
        except trio.RunFinishedError:
            pass
        self._thread.join(timeout=10)
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what the tests use ---------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None or self._server.port is None:
            raise RuntimeError("the server is not started")
        return self._server.port

    @property
    def url(self) -> str:
        """The full ``ws://127.0.0.1:PORT/v1/realtime`` URL."""
        return f"ws://127.0.0.1:{self.port}/v1/realtime"

    @property
    def base_url(self) -> str:
        """``ws://127.0.0.1:PORT/v1``: what the ``openai`` SDK takes as ``websocket_base_url``."""
        return f"ws://127.0.0.1:{self.port}/v1"

    def script(self, turns: Sequence[Turn | Mapping[str, Any]], **scenario: Any) -> None:
        """Answer the next responses with these turns (as the ``script:`` backend's scenario).

        A turn is a ``rtcore_sim.Turn`` or its JSON as a dict (``{"text": "Hi",
        "tool_calls": [{"name": "f", "arguments": {}}]}``); ``scenario`` takes
        the other fields (``transcripts``, ``repeat``, ``ms_per_char``...). Once
        the turns are played the echo answers. Applies to sessions already open.
        """
        plain = [msgspec.to_builtins(t) if isinstance(t, Turn) else dict(t) for t in turns]
        try:
            parsed = msgspec.convert({"turns": plain, **scenario}, Scenario)
        except msgspec.ValidationError as exc:
            raise ValueError(f"not a scenario: {exc}") from None
        backend = ScriptBackend(parsed)
        self._in_loop(lambda server: _set_backend(server, backend))

    def _in_loop(self, change: Callable[[RealtimeServer], None]) -> None:
        if self._server is None or self._token is None:
            raise RuntimeError("the server is not started")
        server, done = self._server, threading.Event()
        failed: list[Exception] = []

        def run() -> None:
            try:
                change(server)
            except Exception as exc:  # the caller's mistake: raised in its thread, not the loop's
                failed.append(exc)
            finally:
                done.set()

        # run_sync_soon is safe from any thread, a trio test's loop thread too
        # (trio.from_thread refuses to block one); the wait is one loop turn.
        self._token.run_sync_soon(run)
        if not done.wait(timeout=10):
            raise RuntimeError("the test server's loop did not answer within 10 s")
        if failed:
            raise failed[0]

    def fault(self, *specs: str | Fault) -> None:
        """Inject faults, as ``rtcore serve --fault SPEC``, into the connections opened from now on.

        ``fault("latency=50ms")``, ``fault("close=1011,after=5")``,
        ``fault("drop,after=2s")``, ``fault("refuse=503")``; repeated calls
        add up, as repeated ``--fault`` options do. A SPEC that does not
        parse raises ``ValueError`` naming the part it did not understand.
        """
        added = tuple(parse_fault(s) if isinstance(s, str) else s for s in specs)
        self._in_loop(lambda server: setattr(server, "faults", (*server.faults, *added)))

    def clear_faults(self) -> None:
        """No faults for the connections opened from now on."""
        self._in_loop(lambda server: setattr(server, "faults", ()))

    @property
    def faults(self) -> tuple[Fault, ...]:
        """The faults each new connection gets."""
        return self._server.faults if self._server is not None else ()

    def save_cassette(self, path: str | Path, *, session: int = -1) -> Path:
        """Write a session as a cassette (``rtcore relay --record``'s format) for ``realtime_cassette``.

        The client's events and the server's, with their times; the
        handshake without its credentials. Play it back with the
        ``realtime_cassette`` fixture, ``CassetteTestServer`` or
        ``rtcore serve --backend cassette:FILE``.
        """
        record = self._latest(session)
        if record.request is None:
            raise ValueError("the session has no handshake to record")
        target = Path(path)
        recorder = Recorder(target, record.request, record.dialect, record.dialect, record.started)
        try:
            for at, sender, message in list(record.messages):
                data = message if isinstance(message, bytes) else ev.encode_event(message)
                recorder.write(at, sender, "down", data)
        finally:
            recorder.close()
        return target

    @property
    def failures(self) -> int:
        """Connections the server ended with an internal error (1011): a bug, never a fault."""
        return self._server.failures if self._server is not None else 0

    @property
    def sessions(self) -> int:
        """Sessions opened so far."""
        return len(self._sessions)

    def _latest(self, session: int) -> _Session:
        if not self._sessions:
            raise AssertionError("no client has opened a session with the test server")
        return self._sessions[session]

    def transcript(self, session: int = -1) -> list[Exchange]:
        """Both directions' events of a session (the latest by default), in the order they passed."""
        return list(self._latest(session).exchanges)

    def snapshot(self, session: int = -1) -> Snapshot:
        """The conversation of a session as the server told it (its events replayed)."""
        record = self._latest(session)
        client = ClientSession(dialect=record.dialect, retain_audio=False)
        for message in list(record.server_messages):
            client.receive_message(message)
        return client.state

    def wait_for(
        self, type: str, *, count: int = 1, timeout: float = 10.0, session: int = -1
    ) -> None:
        """Block until the server has sent ``count`` events of ``type`` (a sync helper)."""
        deadline = time.monotonic() + timeout
        while True:
            if self._sessions:
                sent = [
                    e
                    for e in self.transcript(session)
                    if e.direction == "server" and e.type == type
                ]
                if len(sent) >= count:
                    return
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"waited {timeout} s for {count} {type!r} from the server\n{self._show(session)}"
                )
            time.sleep(0.01)

    # -- assertions -----------------------------------------------------------------------------

    def assert_received(self, *types: str, session: int = -1) -> None:
        """The server sent events of these types in this order (others may come between)."""
        self._assert_order("server", types, session)

    def assert_sent(self, *types: str, session: int = -1) -> None:
        """The client sent events of these types in this order (others may come between)."""
        self._assert_order("client", types, session)

    def assert_no_errors(self, session: int = -1) -> None:
        """The server sent no ``error`` event."""
        errors = [e for e in self.transcript(session) if e.type == "error"]
        if errors:
            error = errors[0].event.error
            raise AssertionError(
                f"the server answered with {len(errors)} error(s); the first: "
                f"{error.code} ({error.param}): {error.message}\n{self._show(session)}"
            )

    def _assert_order(
        self, direction: Literal["client", "server"], types: Sequence[str], session: int
    ) -> None:
        seen = [e.type for e in self.transcript(session) if e.direction == direction]
        at = 0
        for wanted in types:
            try:
                at = seen.index(wanted, at) + 1
            except ValueError:
                who = "server sent" if direction == "server" else "client sent"
                after = f" after {seen[at - 1]!r} (event {at})" if at else ""
                raise AssertionError(
                    f"expected the {who} {wanted!r}{after}; it did not.\n"
                    f"wanted in order: {list(types)}\n{self._show(session)}"
                ) from None

    def _show(self, session: int) -> str:
        lines = [f"transcript (-> client, <- server), {self.dialect} dialect:"]
        for n, exchange in enumerate(self.transcript(session), 1):
            lines.append(f"  {n:3} {exchange}{_detail(exchange)}")
        return "\n".join(lines)


class CassetteTestServer(RealtimeTestServer):
    """A recorded session played back on a background thread: what ``realtime_cassette`` yields.

    The cassette (``rtcore relay --record``, or ``RealtimeTestServer.save_cassette``)
    says the dialect; a client that strays from the recording gets an
    ``error`` (``cassette_divergence``) and close 1008, and the divergence is
    in ``divergences``. ``pace=True`` keeps the recorded pacing. The
    transcript, the snapshot, the faults and the assertions are the other
    test server's; ``script`` is not (the recording answers).
    """

    def __init__(
        self,
        cassette: str | Path,
        *,
        pace: bool = False,
        api_key: str = TEST_API_KEY,
        **options: Any,
    ) -> None:
        self.cassette = read_playable_cassette(Path(cassette))
        self.path = Path(cassette)
        self.pace = pace
        super().__init__(self.cassette.client_dialect, api_key=api_key, **options)

    def _build(self, **options: Any) -> RealtimeServer:
        return _TappedCassetteServer(self, self.path, pace=self.pace, **options)

    def script(self, turns: Sequence[Turn | Mapping[str, Any]], **scenario: Any) -> None:
        raise TypeError("a cassette answers as recorded: script() is the realtime_server's")

    @property
    def divergences(self) -> list[Divergence]:
        """How clients strayed from the recording, one ``Divergence`` per diverging session."""
        return list(self._server.divergences) if isinstance(self._server, CassetteServer) else []

    def assert_no_divergence(self) -> None:
        """Every client sent what the recording has, in its order."""
        if self.divergences:
            raise AssertionError(
                f"the client strayed from the cassette {self.path}: {self.divergences[0]}"
            )


def _set_backend(server: RealtimeServer, backend: ScriptBackend) -> None:
    server.backend = backend
    server.transcriber = backend


def _detail(exchange: Exchange) -> str:
    event = exchange.event
    if exchange.type == "error":
        return f" ({event.error.code}: {event.error.message})"
    if exchange.type.endswith("text.delta") or exchange.type.endswith("transcript.delta"):
        return f" {json.dumps(event.delta)}"
    return ""
