"""The examples' tests use only the ``realtime_server`` fixture of rtcore's pytest plugin."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    # Installed rtcore registers the plugin through its pytest11 entry point; a
    # checkout installed before the entry point existed registers it here.
    from rtcore_trio.pytest_plugin import register

    register(config)
