"""Rules of the project that are cheap to check on every run."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "rtcore"
PACKAGES = ("rtcore", "rtcore_sim", "rtcore_trio")
SIM_LOOP_MODULES = {"rtcore_sim", "rtcore_sim.loop", "rtcore_sim.echo", "rtcore_sim.script"}
"""The modules of ``rtcore_sim`` that await on trio; every other one is sans-IO."""
MAX_MODULE_LINES = 600
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
SANS_IO_FORBIDDEN = FORBIDDEN - {"threading"}
"""What no sans-IO module reaches, directly or not. The core imports no ``threading``
either (its own test); ``rtcore_sim.speech`` locks its voice cache, since voices may be
built in worker threads: a lock, no I/O."""


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


# -- the module import graph ---------------------------------------------------------------------


def _modules() -> dict[str, Path]:
    """Every module of the three packages by dotted name (a package by its ``__init__``)."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_time_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements run when the module is imported: not in functions, not for type checkers."""
    for node in body:
        yield node
        if isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from _import_time_statements(node.body)
            yield from _import_time_statements(node.orelse)
        elif isinstance(node, ast.Try | ast.TryStar):
            for block in (node.body, node.orelse, node.finalbody):
                yield from _import_time_statements(block)
            for handler in node.handlers:
                yield from _import_time_statements(handler.body)
        elif isinstance(node, ast.With | ast.ClassDef):
            yield from _import_time_statements(node.body)


def _import_graph() -> dict[str, set[str]]:
    """Module -> the modules of the three packages it imports at module level.

    ``from p import m`` counts as importing ``p.m`` when that is a module, else ``p``.
    Imports under ``if TYPE_CHECKING:`` and inside functions run later or never, so
    they cannot make an import cycle; they are left out.
    """
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        here = name.split(".") if is_package else name.split(".")[:-1]
        edges: set[str] = set()
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in _import_time_statements(tree.body):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = here[: len(here) - (node.level - 1)]
                    base = ".".join([*anchor, *([base] if base else [])])
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                    for alias in node.names
                ]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]  # ``import a.b.c`` of a non-module
                if target and target != name:
                    edges.add(target)
        graph[name] = edges
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` (its modules in order, the first repeated), or ``None``."""
    done: set[str] = set()
    path: list[str] = []
    on_path: set[str] = set()

    def visit(node: str) -> list[str] | None:
        path.append(node)
        on_path.add(node)
        for target in sorted(graph[node]):
            if target in on_path:
                return path[path.index(target) :] + [target]
            if target not in done:
                found = visit(target)
                if found is not None:
                    return found
        on_path.discard(path.pop())
        done.add(node)
        return None

    for start in sorted(graph):
        if start not in done:
            found = visit(start)
            if found is not None:
                return found
    return None


def test_the_import_graph_finds_what_it_is_meant_to() -> None:
    graph = _import_graph()
    assert "rtcore_sim.backend" in graph["rtcore_sim.echo"]  # from .backend import ...
    assert "rtcore_sim.mcp" in graph["rtcore_sim.echo"]  # from . import mcp
    assert "rtcore_sim" in graph["rtcore_trio.server"]  # from rtcore_sim import ...
    # connection.py names the server for its type hints only: no edge.
    assert "rtcore_trio.server" not in graph["rtcore_trio.connection"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_no_module_imports_itself_through_others() -> None:
    assert _cycle(_import_graph()) is None


def test_the_sans_io_packages_import_no_trio_even_through_other_modules() -> None:
    """``rtcore`` and the sans-IO modules of ``rtcore_sim`` never reach trio or I/O.

    Followed through every module they import: a sans-IO module that imported
    ``rtcore_sim.echo`` would bring trio in as surely as ``import trio``.
    """
    graph = _import_graph()
    modules = _modules()
    sans_io = sorted(
        name
        for name in graph
        if name.split(".")[0] == "rtcore"
        or (name.split(".")[0] == "rtcore_sim" and name not in SIM_LOOP_MODULES)
    )
    assert {"rtcore_sim.speech", "rtcore_sim.output", "rtcore_sim.scenario"} <= set(sans_io)
    offenders: dict[str, list[str]] = {}
    for name in sans_io:
        reached, todo = {name}, [name]
        while todo:
            for target in graph[todo.pop()]:
                if target not in reached:
                    reached.add(target)
                    todo.append(target)
        loop_side = sorted(
            m for m in reached if m in SIM_LOOP_MODULES or m.startswith("rtcore_trio")
        )
        io = sorted(set().union(*(_imports(modules[m]) for m in reached)) & SANS_IO_FORBIDDEN)
        if loop_side or io:
            offenders[name] = loop_side + io
    assert offenders == {}


def test_every_module_is_small() -> None:
    sizes = {name: len(path.read_text().splitlines()) for name, path in sorted(_modules().items())}
    assert {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES} == {}


def test_every_package_ships_type_information() -> None:
    assert [p for p in PACKAGES if not (ROOT / p / "py.typed").exists()] == []


def test_every_package_is_mypy_clean_in_strict_mode() -> None:
    pytest.importorskip("mypy")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", *PACKAGES],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _editable_checkout() -> Path | None:
    """The checkout the installed ``rtcore`` is an editable install of (``None``: not one)."""
    # The checkout's own rtcore.egg-info (left by the build, found first from the
    # checkout) has no direct_url.json: the installed distribution's has.
    for dist in importlib.metadata.distributions(name="rtcore"):
        found = dist.read_text("direct_url.json")
        if found is None:
            continue
        origin = json.loads(found)
        if not origin.get("dir_info", {}).get("editable"):
            return None
        return Path(urllib.parse.unquote(urllib.parse.urlparse(origin["url"]).path)).resolve()
    return None


def test_mypy_sees_the_packages_of_an_editable_install(tmp_path: Path) -> None:
    """``pip install -e .`` then mypy, from anywhere: the packages and their types are found.

    Static tools follow plain path entries, not import hooks; pyproject.toml
    declares the packages at the top of the tree so that setuptools writes one.
    Run without PYTHONPATH or MYPYPATH, from a directory outside the checkout,
    so that only the install can lead mypy to the packages.
    """
    pytest.importorskip("mypy")
    checkout = _editable_checkout()
    if checkout != ROOT:
        pytest.skip(f"rtcore is not installed editable from this checkout ({checkout})")
    (tmp_path / "app.py").write_text(
        "import rtcore\nimport rtcore_sim\nimport rtcore_trio\n\n"
        "client: rtcore.ClientSession = rtcore.ClientSession()\n"
        "server = rtcore_trio.RealtimeServer(rtcore_sim.EchoBackend())\n"
        "port: int | None = server.port\n"
    )
    # A wrong use must be caught: mypy has the real types, not Any.
    (tmp_path / "wrong.py").write_text("import rtcore\n\nclient: int = rtcore.ClientSession()\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MYPYPATH")}
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "app.py", "wrong.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    hint = "(an editable install made before pyproject.toml's package-dir: reinstall it)"
    assert result.stdout.splitlines() == [
        'wrong.py:3: error: Incompatible types in assignment (expression has type "ClientSession",'
        ' variable has type "int")  [assignment]'
    ], result.stdout + result.stderr + hint


def test_the_design_sketch_runs_as_written() -> None:
    # The smallest complete use of the public API: message level, both roles.
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
