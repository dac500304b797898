"""The server's shape: an event table plus parts, and logic that names no dialect.

``ServerSession`` can be read whole: it is its table of client events and a
few parts, each given what it may read and emit in its constructor - no
mixins sharing private attributes, no ``TYPE_CHECKING`` stubs for calls
between them. Every dialect difference is behind the two edges: no other
module of ``rtcore.server`` names a dialect or builds an event only one
dialect has.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from rtcore import events as ev
from rtcore.events import beta, ga
from rtcore.server import ServerSession
from rtcore.server.beta_edge import BetaEdge
from rtcore.server.ga_edge import GAEdge

SERVER = Path(__file__).resolve().parent.parent / "rtcore" / "server"
EDGES = {"beta_edge.py", "ga_edge.py"}
INTERFACE = "edge.py"  # the edges' protocol, typed with both dialects' unions
BETA = set(beta.SERVER_EVENTS.values()) | set(beta.CLIENT_EVENTS.values())
GA = set(ga.SERVER_EVENTS.values()) | set(ga.CLIENT_EVENTS.values())
NAMESPACES = {"ev": ev, "ga": ga, "beta": beta}


def _logic() -> list[Path]:
    return [p for p in sorted(SERVER.glob("*.py")) if p.name not in EDGES | {INTERFACE}]


def _docstrings(tree: ast.AST) -> set[int]:
    """The ids of the nodes that are docstrings (a docstring may name a dialect)."""
    out = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list):
            for statement in body:
                if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
                    out.add(id(statement.value))
    return out


def _dialect_names(path: Path) -> list[str]:
    """What in ``path`` is one dialect's: a dialect's name, or an event only one dialect has."""
    tree = ast.parse(path.read_text(), filename=str(path))
    docstrings = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and node.value in ("ga", "beta")
            and id(node) not in docstrings
        ):
            found.append(f"{path.name}:{node.lineno} {node.value!r}")
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            namespace = NAMESPACES.get(node.value.id)
            cls = getattr(namespace, node.attr, None) if namespace is not None else None
            if isinstance(cls, type) and (cls in BETA) != (cls in GA):
                found.append(f"{path.name}:{node.lineno} {node.value.id}.{node.attr}")
    return found


def test_the_server_logic_names_no_dialect() -> None:
    assert [name for path in _logic() for name in _dialect_names(path)] == []


def test_the_check_finds_what_only_a_dialect_has() -> None:
    # The edges are what the check is about: it must see their dialect's names.
    for edge in EDGES:
        found = _dialect_names(SERVER / edge)
        assert any("'" in name for name in found), edge
        assert any("Session" in name for name in found), edge


def _stubs(path: Path) -> list[str]:
    """Functions declared only for the type checker (``if TYPE_CHECKING: def ...``)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in ast.walk(node):
                if (
                    isinstance(inner, ast.FunctionDef)
                    and inner.body
                    and (
                        isinstance(inner.body[-1], ast.Expr)
                        and isinstance(inner.body[-1].value, ast.Constant)
                        and inner.body[-1].value.value is Ellipsis
                    )
                ):
                    found.append(f"{path.name}:{inner.lineno} {inner.name}")
    return found


def test_the_session_is_an_event_table_and_parts_not_mixins() -> None:
    assert ServerSession.__bases__ == (object,)
    assert [stub for path in sorted(SERVER.glob("*.py")) for stub in _stubs(path)] == []


def test_the_stub_check_finds_a_stub(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("if TYPE_CHECKING:\n    def _item(self, item_id: str) -> int: ...\n")
    assert _stubs(module) == ["m.py:2 _item"]


def test_no_part_is_given_the_session() -> None:
    session = ServerSession()
    parts = [
        value
        for value in (getattr(session, name) for name in type(session).__slots__)
        if type(value).__module__.startswith("rtcore.server.")
    ]
    assert len(parts) >= 7  # record, holdings, writer, transcriptions, requests, buffer, ...
    for part in parts:
        names = getattr(part, "__slots__", None) or vars(part)
        for name in names:
            assert getattr(part, name, None) is not session, (type(part).__name__, name)


@pytest.mark.parametrize("dialect", ["ga", "beta"])
def test_the_event_table_answers_every_client_event_of_both_dialects(dialect: str) -> None:
    session = ServerSession(dialect=dialect)  # type: ignore[arg-type]
    table = session._event_table()
    assert set(table) == set(beta.CLIENT_EVENTS) | set(ga.CLIENT_EVENTS)
    assert set(ev.client_events(dialect)) <= set(table)  # type: ignore[arg-type]


def test_every_server_module_stays_small() -> None:
    sizes = {p.name: len(p.read_text().splitlines()) for p in SERVER.glob("*.py")}
    assert {name: n for name, n in sizes.items() if n > 600} == {}


def test_the_edges_give_the_default_model() -> None:
    assert ServerSession(dialect="ga").session.model == GAEdge.default_model
    assert ServerSession(dialect="beta").session.model == BetaEdge.default_model
    assert ServerSession(dialect="beta", model="m").session.model == "m"


def test_a_beta_edge_has_no_mcp_events() -> None:
    from rtcore import LocalProtocolError
    from rtcore.ids import SequentialIds

    edge = BetaEdge()
    with pytest.raises(LocalProtocolError):
        edge.mcp_call_opened(SequentialIds(), "resp_1", "item_1", 0, "{}")
    with pytest.raises(LocalProtocolError):
        edge.mcp_call_closed("e", "item_1", 0, failed=False)
    with pytest.raises(LocalProtocolError):
        edge.mcp_listing_opened("e", "item_1")
    with pytest.raises(LocalProtocolError):
        edge.mcp_listing_closed("e", "item_1", failed=True)


def test_an_edge_refuses_the_other_dialects_session_update() -> None:
    state = ServerSession().session
    beta_update, ga_update = (
        beta.SessionUpdate(session=beta.SessionConfig()),
        ga.SessionUpdate(session=ga.RealtimeSessionConfig()),
    )
    assert GAEdge().session_of(ga_update, state) is ga_update.session
    with pytest.raises(TypeError):
        GAEdge().session_of(beta_update, state)
    with pytest.raises(TypeError):
        BetaEdge().session_of(ga_update, state)
