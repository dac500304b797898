"""Rules of the project that are cheap to check on every run."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "rtcore"
FORBIDDEN = {
    "trio",
    "trio_websocket",
    "asyncio",
    "socket",
    "threading",
    "time",
    "random",
    "selectors",
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_the_core_does_no_io_reads_no_clock_and_draws_no_random_numbers() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imports(path) & FORBIDDEN)
        for path in CORE.rglob("*.py")
        if _imports(path) & FORBIDDEN
    }
    assert offenders == {}


def test_the_core_ships_type_information() -> None:
    assert (CORE / "py.typed").exists()


def test_the_core_is_mypy_clean_in_strict_mode() -> None:
    pytest.importorskip("mypy")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "rtcore"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_design_sketch_runs_as_written() -> None:
    # ../shared/DESIGN.md, "Sketch of the public API", message level, both roles.
    import rtcore
    from rtcore.events import beta

    client = rtcore.ClientSession()
    data = client.send(beta.ResponseCreate())
    server = rtcore.ServerSession()
    for item in server.receive_message(data):
        if isinstance(item, rtcore.StartResponse):
            server.add_text(item.response_id, "Hello")
            server.finish_response(item.response_id)
    for payload in server.messages_to_send():
        client.receive_message(payload)
    assert [i.content[0].text.value for i in client.state.items] == ["Hello"]  # type: ignore[union-attr]
    # The two roles differ only in their audio policy (the client keeps bytes by
    # default, the server durations); with no audio here, all else is equal.
    assert (client.state.retain_audio, server.state.retain_audio) == (True, False)
    assert msgspec.structs.replace(client.state, retain_audio=False) == server.state
