"""The pytest plugin: ``realtime_server`` and ``realtime_cassette``, a local Realtime server per test.

Registered through the ``pytest11`` entry point, so installing rtcore is
enough. It needs only trio (never hypothesis) and does nothing until a test
asks for a fixture: then a server starts on a free port in a background
thread with its own trio loop, so asyncio, trio and synchronous tests can
all talk to it, and it stops when the test ends.

``realtime_server`` is a ``RealtimeTestServer``: a scripted server whose
dialect is the fixture's parameter, ``"ga"`` by default::

    @pytest.mark.parametrize("realtime_server", ["ga", "beta"], indirect=True)
    def test_both(realtime_server): ...

It gives ``url``, ``base_url`` (for the ``openai`` SDK's
``websocket_base_url``), ``api_key``, ``script(turns)``, ``fault(spec)``,
``snapshot()``, ``transcript()``, ``wait_for(type)``, ``save_cassette(path)``
and the assertions ``assert_received``, ``assert_sent`` and
``assert_no_errors`` (``rtcore_trio.background``).

``realtime_cassette`` is a ``CassetteTestServer``: a recorded session played
back (``rtcore relay --record``, or ``save_cassette``), named by a marker or
the fixture's parameter, relative to the test's file::

    @pytest.mark.realtime_cassette("cassettes/greeting.jsonl")
    def test_replay(realtime_cassette): ...

A client that strays from the recording fails the test when it ends, with
the first divergent event; so does a connection either server ended with an
internal error.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .background import CassetteTestServer, RealtimeTestServer

__all__ = ["realtime_cassette", "realtime_server"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "realtime_cassette(path, pace=False): the cassette the realtime_cassette fixture plays "
        "(a path relative to the test's file); pace=True keeps its recorded pacing",
    )


def _finish(server: RealtimeTestServer) -> None:
    server.stop()
    if server.failures:
        # The server's own error is in the captured log; the test must not pass over it.
        pytest.fail(f"the test server ended {server.failures} connection(s) with an internal error")


@pytest.fixture
def realtime_server(request: pytest.FixtureRequest) -> Iterator[RealtimeTestServer]:
    """A Realtime server of its own for this test (the dialect is the parameter; ``ga`` by default)."""
    dialect: Any = getattr(request, "param", "ga")
    if dialect not in ("ga", "beta"):
        raise ValueError(f"realtime_server takes 'ga' or 'beta', not {dialect!r}")
    server = RealtimeTestServer(dialect).start()
    try:
        yield server
    finally:
        _finish(server)


@pytest.fixture
def realtime_cassette(request: pytest.FixtureRequest) -> Iterator[CassetteTestServer]:
    """A recorded session played back for this test (a ``realtime_cassette`` marker or parameter)."""
    marker = request.node.get_closest_marker("realtime_cassette")
    options: dict[str, Any] = {}
    if marker is not None:
        if len(marker.args) != 1:
            raise ValueError("@pytest.mark.realtime_cassette takes one path")
        where: Any = marker.args[0]
        options = dict(marker.kwargs)
    elif hasattr(request, "param"):
        where = request.param
    else:
        raise ValueError(
            "realtime_cassette needs a cassette: @pytest.mark.realtime_cassette(PATH) "
            "or parametrize it indirectly with the path"
        )
    path = Path(where)
    if not path.is_absolute():
        path = request.path.parent / path
    server = CassetteTestServer(path, **options).start()
    try:
        yield server
    finally:
        _finish(server)
    divergences = server.divergences
    if divergences:
        pytest.fail(f"the client strayed from the cassette {path}: {divergences[0]}")
