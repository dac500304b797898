"""The command line: ``rtcore demo`` (the main job), ``rtcore serve``."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import trio
from servedkit import wait_listening

from rtcore import events as ev
from rtcore_trio import connect
from rtcore_trio.cli import main
from rtcore_trio.demo import run_demo


async def test_the_demo_holds_its_three_turns() -> None:
    lines: list[str] = []
    with trio.fail_after(30):
        await run_demo(lines.append)
    text = "\n".join(lines)
    assert "response.output_text.done 'Hello, rtcore!'" in text
    assert "conversation.item.added" in text and "conversation.item.done" in text
    for event in (
        "speech_started",
        "speech_stopped",
        "input_audio_buffer.committed",
        "transcription.completed",
    ):
        assert event in text
    assert "response.function_call_arguments.done get_weather(" in text
    assert "-> function_call_output call_" in text
    assert "The tool returned:" in text
    assert "4 responses: 4 completed" in text
    assert "0 errors, 0 protocol errors, 0 anomalies, 0 unknown events" in text


def test_serve_refuses_an_unknown_backend(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--backend", "nope"]) == 2
    assert "unknown backend" in capsys.readouterr().err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_runs_a_server_until_interrupted() -> None:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rtcore_trio.cli",
            "serve",
            "--port",
            str(port),
            "--api-key",
            "sk-cli",
        ],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        wait_listening(port, process)

        async def talk() -> str:
            async with connect(
                f"ws://127.0.0.1:{port}/v1/realtime?model=m", api_key="sk-cli"
            ) as rt:
                async for event, _ in rt:
                    if isinstance(event, ev.ga.SessionCreated):
                        assert isinstance(event.session.id, str)
                        return event.session.id
            raise AssertionError("no session")

        session_id = trio.run(talk)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    assert f"listening on ws://127.0.0.1:{port}/v1/realtime" in err
    assert f"connected: session {session_id}" in err
    assert "closed 1000 by peer" in err


def test_replay_tells_the_dialect_of_a_trace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from serverkit import Harness

    from rtcore.server import StartResponse, TextChunk
    from rtcore.trace import detect_dialect, read_trace

    h = Harness(dialect="ga")
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    h.send({"type": "conversation.item.create", "item": item})
    [start] = [e for e in h.send({"type": "response.create"}) if isinstance(e, StartResponse)]
    h.server.produce(start.response_id, TextChunk("hello"))
    h.server.finish_response(start.response_id)
    h.flush()
    trace = tmp_path / "ga.jsonl"
    trace.write_bytes(b"\n".join(h.raw) + b"\n")
    with trace.open("rb") as lines:
        assert detect_dialect(read_trace(lines)) == "ga"
    beta = Path(__file__).parent / "data" / "captures" / "banyan-landing__log_2.server-events.jsonl"
    with beta.open("rb") as lines:
        assert detect_dialect(read_trace(lines)) == "beta"

    assert main(["replay", str(trace), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(h.client.state.to_dict()))
    # Read as beta, the GA events are unknown or malformed: nothing of the conversation.
    assert main(["replay", str(trace), "--dialect", "beta"]) == 0
    assert "0 items" in capsys.readouterr().out


def _cli(*args: str, stdout: int | None = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
    """``python -m rtcore_trio.cli ARGS`` in a subprocess: what a user sees, tracebacks included."""
    return subprocess.run(
        [sys.executable, "-m", "rtcore_trio.cli", *args],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
    )


def test_serve_on_a_port_in_use_says_so_in_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _cli("serve", "--port", str(port))
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()  # no ExceptionGroup, no traceback
    assert line.startswith(f"rtcore serve: cannot listen on 127.0.0.1:{port}: ")
    assert "in use" in line


@pytest.mark.parametrize("port", ["99999", "65536", "-1", "eighty"])
def test_serve_checks_the_port_range(port: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        # An unknown backend ends the command before it serves, should the port pass.
        main(["serve", "--port", port, "--backend", "nope"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("rtcore serve: error: argument --port: ")
    assert ("use 0 to 65535" in err) == (port != "eighty")


@pytest.mark.parametrize("flag", ["--tls-cert", "--tls-key"])
def test_serve_names_a_missing_tls_file(
    flag: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    present = tmp_path / "present.pem"
    present.write_text("-----BEGIN CERTIFICATE-----\n")
    missing = tmp_path / "missing.pem"
    files = {"--tls-cert": str(present), "--tls-key": str(present), flag: str(missing)}
    args = [arg for pair in files.items() for arg in pair]
    assert main(["serve", "--port", "0", *args]) == 2
    assert capsys.readouterr().err == (
        f"rtcore serve: {flag} {missing}: No such file or directory\n"
    )


def test_replay_into_a_closed_pipe_exits_quietly() -> None:
    # The reader has gone before the first line is written (`rtcore replay ... | head -0`):
    # every write fails with EPIPE, deterministically.
    trace = (
        Path(__file__).parent / "data" / "captures" / "banyan-landing__log_2.server-events.jsonl"
    )
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = _cli("replay", str(trace), stdout=write_end)
    finally:
        os.close(write_end)
    assert result.stderr == ""  # no BrokenPipeError traceback, no "Exception ignored"
    assert result.returncode == 1


def test_serve_names_the_tls_files_it_cannot_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("not a certificate\n")
    assert main(["serve", "--port", "0", "--tls-cert", str(cert)]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"rtcore serve: not a PEM certificate chain and key: {cert} (")
