"""The documentation: the site builds strictly, and every example in it runs as written.

* ``mkdocs build --strict`` builds ``docs/`` (with the API reference from the
  docstrings) into a temporary directory: a broken link, a missing page or a
  docstring mkdocstrings cannot read fails the build.
* Every ```python block of ``README.md`` and ``docs/**/*.md`` runs as its
  own program in a subprocess, exactly as a reader would paste it into a
  file. Examples that talk to a server read its address from ``RTCORE_URL``
  (default ``ws://127.0.0.1:8765/v1/realtime``, what a plain ``rtcore serve``
  listens on); here a real ``rtcore serve`` runs on a free port and its
  address is passed in. The protocol pages (``docs/protocol/``) hold wire
  examples in ```json blocks, which do not run.
* The ```json examples outside the protocol pages are scenarios that
  ``rtcore serve --backend script:FILE`` loads.
* The cheap, safe shell examples run too: ``rtcore ... --help`` and
  ``rtcore replay FILE``. Every ``--option`` the CLI pages name exists.
* Nothing points outside the repository: links in the README resolve to
  files in it, and neither the README nor the docs cite research notes.
* A person's view: the built site, served over HTTP, opens in a real
  headless Chromium (driven through its DevTools protocol): the home page,
  a guide, an API page and a protocol page each have their title, the
  navigation and the search box, and log no console error; the search finds
  a word.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import re
import shlex
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browserkit import DevTools, open_browser

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
EXAMPLE_TIMEOUT = 60.0
FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[\w+-]*)[ \t]*$")


def doc_files() -> list[Path]:
    """The README and every page of the site except the protocol pages' wire examples."""
    pages = sorted(p for p in DOCS.rglob("*.md") if "protocol" not in p.relative_to(DOCS).parts)
    return [ROOT / "README.md", *pages]


def fenced_blocks(path: Path) -> list[tuple[str, int, str]]:
    """``(language, first line number, code)`` of every fenced block, dedented to its fence."""
    blocks = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        indent, lang, start = opening["indent"], opening["lang"], i + 1
        body = []
        i += 1
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i])
            i += 1
        blocks.append((lang, start, "\n".join(body) + "\n"))
        i += 1
    return blocks


def blocks_of(lang: str) -> list[Any]:
    return [
        pytest.param(code, id=f"{path.relative_to(ROOT)}:{line}")
        for path in doc_files()
        for block_lang, line, code in fenced_blocks(path)
        if block_lang == lang
    ]


PYTHON_BLOCKS = blocks_of("python")
SHELL_BLOCKS = blocks_of("sh")
JSON_BLOCKS = blocks_of("json")


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a subprocess: this checkout's packages first."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["NO_MKDOCS_2_WARNING"] = "1"
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


@pytest.fixture(scope="module")
def rtcore_url() -> Iterator[str]:
    """A real ``rtcore serve`` (echo backend, both dialects) on a free loopback port."""
    port = free_port()
    command = [sys.executable, "-m", "rtcore_trio.cli", "serve", "--port", str(port)]
    proc = subprocess.Popen(
        command, env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_port(port, proc)
        yield f"ws://127.0.0.1:{port}/v1/realtime"
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_every_page_has_examples_found() -> None:
    # The extraction itself: the README's three programs at least, and blocks in the guides.
    readme = [p for p in PYTHON_BLOCKS if p.id.startswith("README.md")]
    assert len(readme) >= 3
    assert len(PYTHON_BLOCKS) > len(readme)


@pytest.mark.parametrize("code", PYTHON_BLOCKS)
def test_python_example_runs(code: str, rtcore_url: str) -> None:
    compile(code, "<example>", "exec")  # a fragment fails here, with its line
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=child_env(RTCORE_URL=rtcore_url),
        capture_output=True,
        text=True,
        timeout=EXAMPLE_TIMEOUT,
    )
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.parametrize("code", JSON_BLOCKS)
def test_json_example_is_a_scenario(code: str, tmp_path: Path) -> None:
    # Outside the protocol pages, JSON examples are scenarios for `rtcore serve --backend script:FILE`.
    from rtcore_sim import load_backend

    scenario = tmp_path / "scenario.json"
    scenario.write_text(code)
    load_backend(f"script:{scenario}", realtime=False)


def runnable_commands(code: str) -> list[list[str]]:
    """The ``rtcore`` commands of a shell block that are cheap and safe: help and replay."""
    commands = []
    for line in code.splitlines():
        words = shlex.split(line, comments=True)
        if words[:1] != ["rtcore"]:
            continue
        if "--help" in words or words[1:2] == ["replay"]:
            commands.append(words[1:])
    return commands


@pytest.mark.parametrize("code", SHELL_BLOCKS)
def test_shell_example_runs(code: str) -> None:
    for args in runnable_commands(code):
        result = subprocess.run(
            [sys.executable, "-m", "rtcore_trio.cli", *args],
            cwd=ROOT,
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=EXAMPLE_TIMEOUT,
        )
        assert result.returncode == 0, f"rtcore {shlex.join(args)}: {result.stderr[-2000:]}"
        assert result.stdout.strip()


@functools.cache
def cli_help(*args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "rtcore_trio.cli", *args, "--help"],
        env=child_env(),
        capture_output=True,
        text=True,
        check=True,
        timeout=EXAMPLE_TIMEOUT,
    ).stdout


def test_cli_pages_name_only_real_options() -> None:
    helps = cli_help("serve") + cli_help("replay") + cli_help("check") + cli_help("loadtest")
    known = set(re.findall(r"--[a-z][a-z-]*", helps))
    for page in ("cli.md", "serve-security.md"):
        named = set(re.findall(r"`[^`]*?(--[a-z][a-z-]*)", (DOCS / page).read_text()))
        assert named, page
        assert named <= known, f"{page} names options rtcore does not have: {named - known}"


def test_every_serve_option_is_documented() -> None:
    documented = (DOCS / "cli.md").read_text() + (DOCS / "serve-security.md").read_text()
    options = set(re.findall(r"--[a-z][a-z-]*", cli_help("serve"))) - {"--help"}
    missing = {option for option in options if f"`{option}" not in documented}
    assert not missing, f"rtcore serve options not in the docs: {sorted(missing)}"


OUTSIDE = re.compile(r"\.\./shared|\bGA\.md\b|\bEVENTS\.md\b|\bSEQUENCES\.md\b|\bDESIGN\.md\b")


def test_docs_stand_alone() -> None:
    files = [ROOT / "README.md", ROOT / "CHANGELOG.md", ROOT / "mkdocs.yml", *DOCS.rglob("*.md")]
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            assert not OUTSIDE.search(line), f"{path.relative_to(ROOT)}:{number}: {line.strip()}"


def test_readme_links_resolve_in_the_repository() -> None:
    for name in ("README.md", "CHANGELOG.md"):
        text = (ROOT / name).read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+://", target):
                continue
            path = (ROOT / target.split("#")[0]).resolve()
            assert path.is_relative_to(ROOT) and path.exists(), f"{name}: {target}"


@pytest.fixture(scope="module")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-5000:]
    return site


def test_site_builds_strictly(built_site: Path) -> None:
    for page in ("index.html", "guide/client/index.html", "api/events-ga/index.html"):
        assert (built_site / page).is_file(), page
    api = (built_site / "api/rtcore/index.html").read_text(encoding="utf-8")
    assert 'id="rtcore.ClientSession"' in api  # the reference is rendered from the docstrings


# -- a person's view: the built site in a real headless browser ---------------------------------

PAGES = [
    ("index.html", "rtcore"),
    ("guide/client/index.html", "A client in an app - rtcore"),
    ("api/rtcore/index.html", None),
    ("protocol/index.html", None),
]


@pytest.fixture(scope="module")
def site_url(built_site: Path) -> Iterator[str]:
    """The built site over HTTP on a free loopback port (search needs HTTP, not file://)."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(built_site))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as httpd:
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
        httpd.shutdown()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevTools]:
    """Debian's headless Chromium (``apt-get install chromium``); nothing is downloaded."""
    with open_browser(tmp_path_factory.mktemp("chromium")) as tools:
        yield tools


@pytest.mark.parametrize(("page", "title"), PAGES)
def test_page_in_a_browser(page: str, title: str | None, site_url: str, browser: DevTools) -> None:
    browser.events.clear()
    browser.call("Page.navigate", url=site_url + page)
    browser.wait_for("Page.loadEventFired")
    shown = browser.evaluate("document.title")
    if title is not None:
        assert shown == title
    else:
        heading = browser.evaluate(
            "document.querySelector('article h1').firstChild.textContent.trim()"
        )
        assert heading and shown == f"{heading} - rtcore"
    links = browser.evaluate("document.querySelectorAll('nav.md-nav--primary a').length")
    assert links > 20  # the whole navigation, on every page
    assert browser.evaluate("!!document.querySelector('input.md-search__input')")
    assert not browser.severe_errors(), browser.severe_errors()


def test_search_finds_a_word(site_url: str, browser: DevTools) -> None:
    browser.events.clear()
    browser.call("Page.navigate", url=site_url + "index.html")
    browser.wait_for("Page.loadEventFired")
    browser.evaluate("document.querySelector('input.md-search__input').focus()")
    browser.call("Input.insertText", text="truncate_playback")
    hits = browser.poll("document.querySelectorAll('.md-search-result__item').length")
    assert hits >= 1
    assert not browser.severe_errors(), browser.severe_errors()
