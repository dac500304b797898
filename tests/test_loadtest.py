"""``rtcore loadtest`` end to end, against ``rtcore serve`` on loopback (a few sessions, seconds).

Each scenario runs from the command line against a real ``rtcore serve``
process (echo backend), writes its JSON and HTML report, and must give its
figures with no error; over TLS, against an in-process ``RealtimeServer``; and
through ``rtcore relay`` (beta clients, a GA upstream).
An overloaded or failing server is ``test_loadtest_faults.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import gc
import io
import json
import re
import socket
import ssl
import subprocess
import sys
import time
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

from rtcore_sim import load_backend
from rtcore_trio.cli import main
from rtcore_trio.loadtest import LoadOptions, run_load
from rtcore_trio.loadtest_cli import add_loadtest_parser, run_loadtest
from rtcore_trio.loadtest_metrics import METRICS
from rtcore_trio.loadtest_scenario import audio_frames, load_scenario, parse_scenario
from rtcore_trio.relay import RelayServer
from rtcore_trio.server import RealtimeServer


def _load(
    scenario: str,
    sessions: int = 2,
    duration: float = 2.5,
    wrap: Callable[[Any], Any] | None = None,
    **server: Any,
) -> Any:
    """Run a load against an in-process echo server; the result (and the progress reports).

    ``wrap`` makes the server's backend from the echo one; ``server`` are its other options.
    """
    reports: list[dict[str, Any]] = []
    dialect = server.pop("dialect", "ga")
    client_tls = server.pop("client_tls", None)
    scheme = "ws" if client_tls is None else "wss"

    async def main() -> dict[str, Any]:
        backend, transcriber = load_backend("echo", realtime=False)
        if wrap is not None:
            backend = wrap(backend)
        srv = RealtimeServer(backend, transcriber=transcriber, **server)
        async with trio.open_nursery() as nursery:
            await nursery.start(srv.serve, "127.0.0.1", 0)
            options = LoadOptions(
                url=f"{scheme}://127.0.0.1:{srv.port}/v1/realtime",
                sessions=sessions,
                duration=duration,
                scenario=load_scenario(scenario),
                dialect=dialect,
                turn_timeout=5.0,
                ssl_context=client_tls,
            )
            with trio.fail_after(duration + 10):
                result = await run_load(options, reports.append)
            nursery.cancel_scope.cancel()
        return result

    result = trio.run(main)
    json.dumps(result)  # everything in it is JSON
    return result, reports


def _clean(result: dict[str, Any], sessions: int = 2) -> None:
    assert result["errors"] == {} and result["failed"] == {} and result["rejected"] == {}
    assert result["close_codes"] == {} and result["dropped"] == 0
    assert [s["close_code"] for s in result["sessions"]] == [1000] * sessions
    assert result["latency_ms"]["handshake"]["count"] == sessions


def _served_run(
    served: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], scenario: str, *more: str
) -> tuple[dict[str, Any], str]:
    """``rtcore loadtest`` (2 sessions, 2.5 s) against ``rtcore serve``: its JSON and output.

    Whatever the scenario, the JSON has every figure, overall and per interval,
    and the HTML report is written (``test_loadtest_report.py`` opens one in Chromium).
    """
    out, report = tmp_path / "r.json", tmp_path / "r.html"
    argv = ["loadtest", served, "--sessions", "2", "--duration", "2.5", "--scenario", scenario]
    assert main([*argv, *more, "--out", str(out), "--html", str(report)]) == 0
    result: dict[str, Any] = json.loads(out.read_text())
    assert report.read_text().startswith("<!DOCTYPE html>")
    assert set(result["latency_ms"]) == set(METRICS)
    for figures in result["latency_ms"].values():
        assert figures is None or set(figures) == {"count", "p50", "p90", "p99", "max"}
    for key in ("errors", "close_codes", "rejected", "failed", "dropped", "events", "histograms"):
        assert key in result, key
    assert result["intervals"] and all("latency_ms" in i for i in result["intervals"])
    for session in result["sessions"]:  # and per session
        assert session["latency_ms"]["handshake"]["count"] == 1
        assert sum(session["events_by_type"].values()) == session["events"] > 0
    assert sum(sum(s["events_by_type"].values()) for s in result["sessions"]) == sum(
        result["events"].values()
    )
    assert result["parameters"]["scenario"] == scenario
    return result, capsys.readouterr().out


def test_text_scenario(served: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    began = time.monotonic()
    result, printed = _served_run(served, tmp_path, capsys, "text")
    # it stops by itself at --duration (2.5 s), then waits at most 2 s for the close handshakes
    assert 2.5 <= time.monotonic() - began < 6.0
    _clean(result)
    lat = result["latency_ms"]
    assert lat["first_delta"]["count"] >= 4 and lat["response"]["count"] >= 4
    assert lat["speech_stopped"] is None  # no audio was sent
    assert result["events"]["response.done"] == sum(s["responses"] for s in result["sessions"])
    first = re.search(r"sessions (\d+)/2  events/s (\d+)", printed)
    assert first is not None and first[1] == "2" and int(first[2]) > 0


def test_audio_scenario_server_vad_fires(
    served: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result, _ = _served_run(served, tmp_path, capsys, "audio")
    _clean(result)
    lat = result["latency_ms"]
    assert lat["speech_stopped"]["count"] == 2
    # server VAD waits 200 ms of silence: the latency cannot be much less (a frame's worth).
    assert 170 <= lat["speech_stopped"]["p50"] < 1000
    assert lat["first_audio"]["count"] == 2 and lat["first_delta"]["count"] == 2
    assert result["events"]["input_audio_buffer.speech_started"] >= 2
    assert result["generator"]["lag_ms"]["count"] > 50  # every 20 ms tick with audio under way
    # Whether this process kept its schedule depends on the machine; what matters is that
    # the verdict and the intervals agree.
    bound = [n for n, i in enumerate(result["intervals"]) if i["generator_bound"]]
    assert result["generator"]["bound_intervals"] == bound


def test_tools_scenario_answers_the_call(
    served: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result, _ = _served_run(served, tmp_path, capsys, "tools")
    _clean(result)
    assert result["events"]["response.function_call_arguments.done"] >= 2
    # per turn: the call, then the answer that reads the output back
    assert all(s["responses"] >= 2 for s in result["sessions"])
    calls = result["events"]["response.function_call_arguments.done"]
    # the run may end between a call and its answer: at most one per session
    assert 2 * calls - 2 <= result["events"]["response.done"] <= 2 * calls


def test_mixed_scenario_in_beta(
    served: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result, _ = _served_run(served, tmp_path, capsys, "mixed", "--dialect", "beta")
    _clean(result)
    assert "response.audio.delta" in result["events"]
    assert "response.output_audio.delta" not in result["events"]
    assert result["latency_ms"]["speech_stopped"]["count"] == 2


def test_barge_in_truncates_the_answer_where_heard(
    served: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result, _ = _served_run(served, tmp_path, capsys, "barge-in")
    _clean(result)
    truncated = result["events"].get("conversation.item.truncated", 0)
    assert result["barge_ins"] >= 2 and result["barge_ins"] - 2 <= truncated <= result["barge_ins"]
    assert result["latency_ms"]["speech_stopped"]["count"] >= 2


def test_over_tls() -> None:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_tls)
    client_tls = ssl.create_default_context()
    ca.configure_trust(client_tls)
    result, _ = _load("mixed", ssl_context=server_tls, client_tls=client_tls)
    _clean(result)
    assert result["parameters"]["url"].startswith("wss://")
    assert result["latency_ms"]["speech_stopped"]["count"] == 2
    assert result["latency_ms"]["first_audio"]["count"] >= 2


def test_through_the_relay_translating_beta_to_ga() -> None:
    async def main() -> dict[str, Any]:
        upstream = RealtimeServer()  # the echo backend, GA
        async with trio.open_nursery() as nursery:
            await nursery.start(upstream.serve, "127.0.0.1", 0)
            relay = RelayServer(f"ws://127.0.0.1:{upstream.port}/v1/realtime")
            await nursery.start(relay.serve, "127.0.0.1", 0)
            options = LoadOptions(
                url=f"ws://127.0.0.1:{relay.port}/v1/realtime",
                sessions=2,
                duration=3.0,
                scenario=load_scenario("mixed"),
                dialect="beta",
                turn_timeout=5.0,
            )
            result = await run_load(options)
            nursery.cancel_scope.cancel()
        return result

    result = trio.run(main)
    _clean(result)
    assert "response.audio.delta" in result["events"]  # beta names, from a GA upstream
    assert "response.output_audio.delta" not in result["events"]
    assert result["latency_ms"]["speech_stopped"]["count"] == 2
    assert result["events"]["response.function_call_arguments.done"] >= 2


def test_the_heap_is_frozen_while_the_sessions_run(served: str) -> None:
    frozen: list[int] = []
    options = LoadOptions(url=served, sessions=2, duration=2.5, scenario=load_scenario("text"))
    trio.run(run_load, options, lambda status: frozen.append(gc.get_freeze_count()))
    assert frozen and all(n > 0 for n in frozen)  # every session up: gc.freeze()
    assert gc.get_freeze_count() == 0  # and unfrozen at the end


def test_options_are_checked() -> None:
    text = load_scenario("text")
    for bad, match in [
        (dict(sessions=0), "--sessions"),
        (dict(duration=0.0), "--duration"),
        (dict(ramp=5.0), "--ramp"),
        (dict(frame_ms=15), "--frame-ms"),
        (dict(url="http://example.com/"), "ws:// or wss://"),
        (dict(url="ws:///nohost"), "no host"),
    ]:
        kwargs: dict[str, Any] = dict(url="ws://127.0.0.1:1/", sessions=1, duration=1.0)
        kwargs.update(bad)
        with pytest.raises(ValueError, match=match):
            LoadOptions(scenario=text, **kwargs)


def test_audio_frames_are_speech_then_silence() -> None:
    frames, speech = audio_frames(b"\x01\x00" * 24000, silence_ms=300, frame_ms=20)
    assert speech == 50 and len(frames) == 50 + 15
    assert frames[-1] is frames[-2]  # built once, shared


# -- scenarios --------------------------------------------------------------------------------------


def test_scenario_files(tmp_path: Path) -> None:
    wav = tmp_path / "hello.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(24000)
        w.writeframes(b"\x10\x00" * 2400)
    path = tmp_path / "s.json"
    turns = [
        {"wav": "hello.wav", "think_s": 0},
        {"say": "hi"},
        {"speak_ms": 200, "barge_in_ms": 50},
    ]
    path.write_text(json.dumps({"turns": turns, "think_s": 1}))
    scenario = load_scenario(str(path))
    assert [t.kind for t in scenario.turns] == ["audio", "text", "audio"]
    assert scenario.turns[0].audio == b"\x10\x00" * 2400 and scenario.turns[0].think_s == 0
    assert scenario.turns[1].think_s == 1 and scenario.tools == ()
    assert scenario.turns[2].barge_in_s == 0.05 and scenario.turns[0].barge_in_s is None
    assert load_scenario("tools").tools[0]["name"] == "get_weather"

    with wave.open(str(wav), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\x00" * 400)
    with pytest.raises(ValueError, match="16000 Hz, 2 channel"):
        load_scenario(str(path))


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({}, "non-empty list of turns"),
        ({"turns": []}, "non-empty list of turns"),
        ({"turns": [{"say": "x"}], "extra": 1}, "unknown scenario keys"),
        ({"turns": [{"say": "x", "speak_ms": 100}]}, "turn 1: give exactly one"),
        ({"turns": [{"say": "x"}, {"shout": "y"}]}, "turn 2: unknown keys"),
        ({"turns": [{"speak_ms": 100, "tool_output": "{}"}]}, "tool_output goes with say"),
        ({"turns": [{"say": ""}]}, "non-empty string"),
        ({"turns": [{"speak_ms": 5}]}, "speak_ms must be"),
        ({"turns": [{"say": "x"}], "think_s": -1}, "think_s must be"),
        ({"turns": [{"wav": "missing.wav"}]}, "cannot read"),
        ({"turns": [{"say": "x", "barge_in_ms": 100}]}, "barge_in_ms goes with speech"),
        ({"turns": [{"speak_ms": 500, "barge_in_ms": -1}]}, "barge_in_ms must be"),
    ],
)
def test_bad_scenarios_are_named(data: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        parse_scenario(data, "s.json", Path("/nonexistent"))


# -- the command line, against a real `rtcore serve` ------------------------------------------------


@contextlib.contextmanager
def serve_process(*options: str) -> Iterator[str]:
    """A real ``rtcore serve`` (echo) with ``options``, on a free port; its URL while it runs."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "rtcore_trio.cli", "serve", "--port", str(port), *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "rtcore serve did not start"
                assert process.poll() is None, "rtcore serve ended"
                time.sleep(0.05)
        yield f"ws://127.0.0.1:{port}/v1/realtime"
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    with serve_process() as url:
        yield url


def test_command_line_writes_json_csv_html(
    served: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, table, report = tmp_path / "r.json", tmp_path / "r.csv", tmp_path / "r.html"
    argv = ["loadtest", served, "--sessions", "3", "--duration", "2.5", "--ramp", "0.5"]
    argv += ["--out", str(out), "--csv", str(table), "--html", str(report)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "sessions 3/3" in printed  # a plain progress line (stdout is not a terminal)
    assert "\r" not in printed
    assert "first_delta" in printed and "the generator kept its schedule" in printed
    result = json.loads(out.read_text())
    assert result["parameters"]["sessions"] == 3 and result["parameters"]["scenario"] == "mixed"
    assert result["errors"] == {}
    rows = list(csv.DictReader(table.open()))
    assert len(rows) == len(result["intervals"]) and "first_delta_p99_ms" in rows[0]
    assert report.read_text().startswith("<!DOCTYPE html>")


def test_the_key_from_the_option_or_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "r.json"

    def run(url: str, *more: str) -> dict[str, Any]:
        argv = ["loadtest", url, "--sessions", "1", "--duration", "1", "--scenario", "text"]
        assert main([*argv, *more, "--out", str(out)]) == 0
        return dict(json.loads(out.read_text()))

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with serve_process("--api-key", "sk-loadtest") as url:
        assert run(url)["rejected"] == {"401": 1}  # no key
        assert run(url, "--api-key", "sk-wrong")["rejected"] == {"401": 1}
        assert run(url, "--api-key", "sk-loadtest")["errors"] == {}
        monkeypatch.setenv("OPENAI_API_KEY", "sk-loadtest")
        result = run(url)
        assert result["errors"] == {} and result["latency_ms"]["first_delta"]["count"] >= 1
    assert "sk-loadtest" not in out.read_text()  # the key is in no report
    capsys.readouterr()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_rewrites_one_line_on_a_terminal(served: str) -> None:
    parser = argparse.ArgumentParser()
    add_loadtest_parser(parser.add_subparsers())
    args = parser.parse_args(["loadtest", served, "--sessions", "1", "--duration", "2.5"])
    terminal = _Terminal()
    assert run_loadtest(args, terminal) == 0
    progress, _, summary = terminal.getvalue().partition("\nlatency (ms)")
    # each interval's line replaces the one before: carriage return, erase the line
    assert progress.count("\r\x1b[K") >= 2 and "\n" not in progress
    assert "sessions 1/1" in progress and "first_delta" in summary


def test_command_line_mistakes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["loadtest", "ws://127.0.0.1:1/", "--scenario", str(tmp_path / "no.json")]) == 2
    assert "not one of text, audio, tools, barge-in, mixed" in capsys.readouterr().err
    assert main(["loadtest", "http://127.0.0.1:1/"]) == 2
    assert "ws://" in capsys.readouterr().err


# -- the page that documents it ---------------------------------------------------------------------

PAGE = Path(__file__).resolve().parent.parent / "docs" / "guide" / "loadtest.md"


def test_the_page_names_every_option_and_no_other(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["loadtest", "--help"])
    options = set(re.findall(r"--[a-z][a-z-]*", capsys.readouterr().out)) - {"--help"}
    text = PAGE.read_text()
    documented = set(re.findall(r"`(--[a-z][a-z-]*)", text))
    assert documented == options


def test_the_pages_scenario_loads(tmp_path: Path) -> None:
    text = PAGE.read_text()
    (block,) = [b for b in re.findall(r"```text\n(.*?)```", text, re.S) if '"turns"' in b]
    path = tmp_path / "scenario.json"
    path.write_text(block)
    turns = load_scenario(str(path)).turns
    assert [t.kind for t in turns] == ["text", "audio", "tool", "audio"]
    assert turns[3].barge_in_s is not None
