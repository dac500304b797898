"""The protocol pages are the project's own, and every reference to them resolves.

Docstrings, comments, tests, the README and the docs cite the protocol as
``docs/protocol/<page>.md#<anchor>`` (from Markdown files, a relative link to
the same place). These tests check that each such reference names a page of
``docs/protocol`` and an anchor that page defines (``{#anchor}`` on a heading),
that the pages' links among themselves resolve too, and that nothing in the
repository points at notes kept outside it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROTOCOL = ROOT / "docs" / "protocol"
PAGES = ("index", "connection", "ga", "beta", "flows", "dialects", "errors", "choices", "relay")

# Where references may appear: the packages, the tests, the benchmarks, the README, the docs.
PLACES = ("rtcore", "rtcore_trio", "tests", "benchmarks", "docs", "README.md")
SUFFIXES = (".py", ".md", ".yml", ".yaml", ".toml", ".txt", ".cfg", ".ini")

# "docs/protocol/ga.md#session", "protocol/ga.md#session", "../protocol/ga.md".
REFERENCE = re.compile(r"(?<![\w-])(?:docs/)?protocol/([\w-]+\.md)(?:#([\w-]+))?")
# Links between the protocol pages: "](ga.md#session)", "](flows.md)".
PAGE_LINK = re.compile(r"\]\(([\w-]+\.md)(?:#([\w-]+))?\)")
ANCHOR = re.compile(r"\{#([\w-]+)\}")
OUTSIDE = re.compile(r"\b(?:GA|SEQUENCES|EVENTS)\.md\b|\.\./shared\b")


def _files() -> list[Path]:
    out: list[Path] = []
    for place in PLACES:
        path = ROOT / place
        if path.is_file():
            out.append(path)
        elif path.is_dir():
            out += sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix in SUFFIXES
                and "__pycache__" not in p.parts
                and (ROOT / "tests" / "data") not in p.parents
            )
    return out


def _anchors() -> dict[str, set[str]]:
    return {
        page.name: set(ANCHOR.findall(page.read_text(encoding="utf-8")))
        for page in sorted(PROTOCOL.glob("*.md"))
    }


def _where(path: Path, text: str, pos: int) -> str:
    return f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, pos) + 1}"


def test_the_protocol_pages_exist_with_their_anchors() -> None:
    anchors = _anchors()
    assert sorted(anchors) == sorted(f"{p}.md" for p in PAGES)
    for page, found in anchors.items():
        assert found, f"{page} defines no anchors"
    # A few anchors the engine's rules rest on; renaming one breaks many references.
    assert {"response-object", "session", "sdk-types", "client-events"} <= anchors["ga.md"]
    assert {"audio-response", "barge-in", "server-vad-turn", "conventions"} <= anchors["flows.md"]
    assert {"dialect-choice", "envelope", "limits"} <= anchors["connection.md"]


def test_anchors_are_unique_per_page() -> None:
    for page in sorted(PROTOCOL.glob("*.md")):
        found = ANCHOR.findall(page.read_text(encoding="utf-8"))
        repeated = sorted({a for a in found if found.count(a) > 1})
        assert not repeated, f"{page.name} repeats anchors {repeated}"


def test_every_reference_names_a_page_and_an_anchor_on_it() -> None:
    anchors = _anchors()
    bad: list[str] = []
    count = 0
    for path in _files():
        text = path.read_text(encoding="utf-8")
        for m in REFERENCE.finditer(text):
            page, anchor = m.group(1), m.group(2)
            count += 1
            if page not in anchors:
                bad.append(f"{_where(path, text, m.start())}: no page {page}")
            elif anchor is not None and anchor not in anchors[page]:
                bad.append(f"{_where(path, text, m.start())}: no anchor {page}#{anchor}")
    assert not bad, "\n".join(bad)
    assert count > 0, "no reference to docs/protocol found"


def test_links_between_the_protocol_pages_resolve() -> None:
    anchors = _anchors()
    bad: list[str] = []
    for page in sorted(PROTOCOL.glob("*.md")):
        text = page.read_text(encoding="utf-8")
        for m in PAGE_LINK.finditer(text):
            target, anchor = m.group(1), m.group(2)
            if target not in anchors:
                bad.append(f"{_where(page, text, m.start())}: no page {target}")
            elif anchor is not None and anchor not in anchors[target]:
                bad.append(f"{_where(page, text, m.start())}: no anchor {target}#{anchor}")
        # Same-page links: "](#anchor)".
        for m in re.finditer(r"\]\(#([\w-]+)\)", text):
            if m.group(1) not in anchors[page.name]:
                bad.append(f"{_where(page, text, m.start())}: no anchor #{m.group(1)}")
    assert not bad, "\n".join(bad)


def test_the_protocol_pages_show_no_python_blocks() -> None:
    # Python blocks in the docs are executed by the docs tests; wire examples are JSON or text.
    for page in sorted(PROTOCOL.glob("*.md")):
        assert "```python" not in page.read_text(encoding="utf-8"), page.name


@pytest.mark.parametrize("place", PLACES)
def test_nothing_points_outside_the_repository(place: str) -> None:
    bad: list[str] = []
    for path in _files():
        if path != ROOT / place and ROOT / place not in path.parents:
            continue
        if path == Path(__file__).resolve():
            continue  # this file names what it looks for
        text = path.read_text(encoding="utf-8")
        for m in OUTSIDE.finditer(text):
            bad.append(f"{_where(path, text, m.start())}: {m.group(0)}")
    assert not bad, "\n".join(bad)
