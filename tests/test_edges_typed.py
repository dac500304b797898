"""The dialect edges are typed with their dialect's own classes.

The ``Edge`` protocol's signatures name no ``Any`` (its type parameters are
the dialect's unions), and mypy refuses a beta object handed to the GA edge,
or a GA one to the beta edge - on the server's edges and the client's reader.
"""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from rtcore.server.edge import Edge

ROOT = Path(__file__).resolve().parent.parent


def test_the_edge_protocol_names_no_any() -> None:
    methods = {
        name: member
        for name, member in vars(Edge).items()
        if inspect.isfunction(member) and not name.startswith("_")
    }
    assert {"session_changes", "wire_item", "response_object", "check_item"} <= set(methods)
    for name, method in methods.items():
        for annotation in method.__annotations__.values():
            assert "Any" not in str(annotation), (name, annotation)


WRONG_PATHS = """
from rtcore import events as ev
from rtcore.events import beta, ga
from rtcore.rules import ga_read
from rtcore.server.beta_edge import BetaEdge
from rtcore.server.ga_edge import GAEdge
from rtcore.state.session import SessionState

GAEdge().session_changes(beta.SessionConfig(voice="ash"), SessionState())
GAEdge().check_item(beta.MessageItem(role="assistant"), "item", "pcm16")
ga_read.response_overrides(beta.ResponseParams())
BetaEdge().retrieved("e", ga.MessageItem(role="user"))
"""


def test_mypy_refuses_a_beta_object_on_the_ga_path(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    snippet = tmp_path / "wrong_paths.py"
    snippet.write_text(WRONG_PATHS)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", str(snippet)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    errors = [line for line in result.stdout.splitlines() if "[arg-type]" in line]
    lines = {int(line.split(":")[1]) for line in errors}
    assert lines == {9, 10, 11, 12}, result.stdout + result.stderr
