"""The Locust user class (``rtcore[locust]``): headless Locust, a master and one worker, on loopback.

Locust runs in its own process (it patches the standard library with gevent
when imported: never in the test process) against a real ``rtcore serve``,
with ``--processes 1``: a master and one forked worker, Locust's distributed
mode on one machine. Its CSV must name the Realtime figures as requests, with
no failure; against a server that refuses connections, the refusals are
failed requests named ``error`` and Locust ends normally. Nothing but
``rtcore_trio.locust`` imports Locust or gevent.
"""

from __future__ import annotations

import csv
import importlib.util
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_loadtest import serve_process

# Not importorskip: importing locust patches this process with gevent.
if importlib.util.find_spec("locust") is None:
    pytest.skip("Locust is the rtcore[locust] extra", allow_module_level=True)

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "guide" / "loadtest.md"
# The Load testing page's locustfile, run as the page shows it.
(LOCUSTFILE,) = [
    block
    for block in re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.S)
    if "RealtimeUser" in block
]


def _locust(
    host: str, tmp_path: Path, users: int, rate: int, seconds: int
) -> tuple[subprocess.CompletedProcess[str], dict[str, dict[str, str]], list[dict[str, str]]]:
    """Run headless Locust with one local worker; its outcome, stats rows by name, failures."""
    (tmp_path / "locustfile.py").write_text(LOCUSTFILE)
    command = [sys.executable, "-m", "locust", "-f", "locustfile.py", "--headless"]
    command += ["-u", str(users), "-r", str(rate), "-t", f"{seconds}s", "--processes", "1"]
    command += ["--only-summary", "--host", host, "--csv", str(tmp_path / "out")]
    with socket.socket() as s:  # the master's port for its worker: a free one, not 5557
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    command += ["--master-bind-host", "127.0.0.1", "--master-bind-port", port]
    command += ["--master-port", port]  # where the forked worker looks for its master
    done = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=seconds + 60
    )
    rows = {r["Name"]: r for r in csv.DictReader((tmp_path / "out_stats.csv").open())}
    failures = list(csv.DictReader((tmp_path / "out_failures.csv").open()))
    return done, rows, failures


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    with serve_process() as url:
        yield url


@pytest.fixture(scope="module")
def refusing() -> Iterator[str]:
    with serve_process("--max-connections", "2") as url:
        yield url


FIGURES = ("handshake", "speech_stopped", "first_delta", "first_audio", "response")


def test_locust_shows_the_realtime_figures(served: str, tmp_path: Path) -> None:
    done, rows, failures = _locust(served, tmp_path, users=10, rate=5, seconds=10)
    assert done.returncode == 0, done.stderr[-3000:]
    for name in FIGURES:
        assert rows[name]["Type"] == "realtime" and int(rows[name]["Request Count"]) > 0, name
    assert rows["handshake"]["Request Count"] == "10"  # one session per user, no more
    # server VAD waits 200 ms of silence before speech_stopped; the echo answers at once
    assert 150 <= float(rows["speech_stopped"]["Median Response Time"]) < 1000
    assert "error" not in rows and failures == []
    assert rows["Aggregated"]["Failure Count"] == "0"
    assert "Traceback" not in done.stderr


def test_locust_counts_a_refusing_server_as_failures(refusing: str, tmp_path: Path) -> None:
    done, rows, failures = _locust(refusing, tmp_path, users=4, rate=4, seconds=3)
    assert done.returncode == 1, done.stderr[-3000:]  # Locust's status when requests failed
    assert "Traceback" not in done.stderr  # the users end as counted, not as crashes
    assert rows["handshake"]["Request Count"] == "2"
    assert rows["error"]["Failure Count"] == "2"
    assert [(f["Name"], f["Error"], f["Occurrences"]) for f in failures] == [
        ("error", "RuntimeError('http_503')", "2")
    ]
    assert int(rows["first_delta"]["Request Count"]) > 0  # the two admitted keep talking


def test_nothing_else_imports_locust_or_gevent() -> None:
    """Every module of rtcore, rtcore_sim and rtcore_trio but ``rtcore_trio.locust``."""
    program = """
import importlib, pkgutil, sys
import rtcore, rtcore_sim, rtcore_trio
names = []
for package in (rtcore, rtcore_sim, rtcore_trio):
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        if info.name != "rtcore_trio.locust":
            importlib.import_module(info.name)
            names.append(info.name)
assert "rtcore_trio.loadtest" in names and "rtcore_trio.cli" in names, names
print(sorted(m for m in sys.modules if m.split(".")[0] in ("locust", "gevent")))
"""
    done = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == "[]"


def test_the_locust_user_sends_without_waiting_for_acknowledgements() -> None:
    """Its frames leave when written (TCP_NODELAY), in its own process: locust patches the
    standard library when imported."""
    program = """
import socket
from rtcore_trio.locust import _connect
listener = socket.create_server(("127.0.0.1", 0))
sock = _connect("127.0.0.1", listener.getsockname()[1], 5)
print(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
"""
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-1] != "0"
