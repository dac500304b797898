"""Shared test configuration.

Hypothesis profiles: ``ci`` (the default, so the README's test command stays
fast), ``dev`` and ``long`` for deeper local runs
(``HYPOTHESIS_PROFILE=long pytest``).

The server's two I/O strategies (``rtcore_trio/reader.py``): the server's own
tests (the trio tests of ``IO_MODULES``: the socket-level server tests, the
attack, bounds and soak tests) run over both, ``epoll`` (the one reader) and ``per-task``; every
other test runs over the default, ``$RTCORE_IO`` or else ``auto`` (``epoll``
on Linux), so ``RTCORE_IO=per-task pytest`` runs the whole suite over the
per-task path.
"""

from __future__ import annotations

import inspect
import os
import select
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

import rtcore_trio.reader

settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile(
    "dev",
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "long",
    max_examples=3000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))

CAPTURES = TESTS / "data" / "captures"
"""The recorded real traffic (tests/data/captures/, its README says where each comes from)."""

IO_MODULES = ("test_trio_server", "test_attack_", "test_bounds", "test_soak", "test_serve_faults")
"""Modules (by name prefix) whose tests run over both I/O strategies."""


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # The sans-IO tests of these modules are plain functions and run once; the ones over
    # sockets are trio tests (or start ``rtcore serve``: the soak test) and run over both.
    if (
        "server_io" in metafunc.fixturenames
        and metafunc.module.__name__.startswith(IO_MODULES)
        and (
            inspect.iscoroutinefunction(metafunc.function)
            or metafunc.module.__name__ == "test_soak"
        )
    ):
        metafunc.parametrize("server_io", ["epoll", "per-task"], indirect=True)


@pytest.fixture(autouse=True)
def server_io(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The I/O strategy of every server the test starts, in this process and in the
    ``rtcore serve`` processes it runs (``$RTCORE_IO``)."""
    io = getattr(request, "param", None)
    if io is None:
        yield rtcore_trio.reader.DEFAULT_IO
        return
    if io == "epoll" and not hasattr(select, "epoll"):
        pytest.skip("no select.epoll on this platform: the per-task path only")
    monkeypatch.setattr(rtcore_trio.reader, "DEFAULT_IO", io)
    monkeypatch.setenv("RTCORE_IO", io)
    yield io
