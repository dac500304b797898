"""The pytest plugin: a ``realtime_server`` fixture, a local Realtime server for every test.

Registered through the ``pytest11`` entry point, so installing rtcore is
enough. It needs only trio (never hypothesis) and does nothing until a test
asks for the fixture: then a ``RealtimeTestServer`` starts on a free port in
a background thread with its own trio loop, so asyncio, trio and synchronous
tests can all talk to it, and it stops when the test ends.

The dialect is the fixture's parameter, ``"ga"`` by default::

    @pytest.mark.parametrize("realtime_server", ["ga", "beta"], indirect=True)
    def test_both(realtime_server): ...

What the fixture gives: ``url``, ``base_url`` (for the ``openai`` SDK's
``websocket_base_url``), ``api_key``, ``script(turns)``, ``snapshot()``,
``transcript()``, ``wait_for(type)`` and the assertions ``assert_received``,
``assert_sent`` and ``assert_no_errors`` (``rtcore_trio.background``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .background import RealtimeTestServer

__all__ = ["realtime_server"]


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
        server.stop()
    if server.failures:
        # The server's own error is in the captured log; the test must not pass over it.
        pytest.fail(f"the test server ended {server.failures} connection(s) with an internal error")
