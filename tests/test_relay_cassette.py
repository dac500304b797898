"""Cassettes played back by ``CassetteServer``: the same scripted client, the same snapshots.

A session is recorded through a relay (a beta client before a GA upstream),
then played back to the same script: the client's snapshots must be equal,
from an embedded ``CassetteServer`` and from ``rtcore serve --backend
cassette:FILE``. A client that strays from the recording gets an ``error``
naming the first divergent event, and close code 1008; the command's log
says it too.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from test_relay import RELAY_KEY, ending, relay_to, until, upstream_server, url
from test_serve_faults import rtcore_serve

from rtcore import events as ev
from rtcore.events import beta
from rtcore.state import Snapshot
from rtcore_trio import CassetteServer, HandshakeError, connect, parse_fault
from rtcore_trio.cli import main
from rtcore_trio.relay_record import read_cassette


async def script(address: str) -> Snapshot:
    """A beta client: a text turn, then a retrieve of the answer."""
    async with connect(address, api_key=RELAY_KEY, dialect="beta") as client:
        await until(client, "session.created")
        await client.send(
            beta.SessionUpdate(
                session=beta.SessionConfig(modalities=("text",), turn_detection=None)
            )
        )
        item = beta.MessageItem(role="user", content=(ev.InputTextContent(text="once more"),))
        await client.send(beta.ConversationItemCreate(item=item))
        await client.send(beta.ResponseCreate())
        done = await until(client, "response.done")
        await client.send(ev.ConversationItemRetrieve(item_id=done.response.output[0].id))
        await until(client, "conversation.item.retrieved")
        return client.state


async def record(directory: Path) -> tuple[Path, Snapshot]:
    async with upstream_server() as up, relay_to(url(up), record=directory) as relay:
        live = await script(f"ws://127.0.0.1:{relay.port}/v1/realtime")
    [path] = list(directory.glob("*[0-9].jsonl"))  # the client's side
    return path, live


async def test_a_cassette_replays_to_identical_snapshots(tmp_path: Path) -> None:
    path, live = await record(tmp_path)
    for pace in (False, True):
        server = CassetteServer(path, pace=pace, api_keys=[RELAY_KEY])
        async with trio.open_nursery() as nursery:
            await nursery.start(server.serve, "127.0.0.1", 0)
            replayed = await script(f"ws://127.0.0.1:{server.port}/v1/realtime")
            server.shutdown()
        assert replayed.to_dict() == live.to_dict()
        assert replayed == live
        assert server.divergences == []


def paced_cassette(tmp_path: Path) -> Path:
    """A GA cassette whose one answer came 0.3 s after its client message."""
    path = tmp_path / "paced.jsonl"
    header = (
        '{"type":"rtcore.cassette","version":1,"side":"down","client_dialect":"ga",'
        '"upstream_dialect":"ga","handshake":{}}'
    )
    lines = [
        '{"direction":"client","time":0.0,"event":' + header + "}",
        '{"direction":"server","time":0.0,"event":{"type":"session.created","event_id":"e1",'
        '"session":{"type":"realtime","id":"s"}}}',
        '{"direction":"client","time":1.0,"event":{"type":"input_audio_buffer.clear"}}',
        '{"direction":"server","time":1.3,"event":{"type":"input_audio_buffer.cleared","event_id":"e2"}}',
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


async def clear_round_trip(port: int) -> float:
    async with connect(f"ws://127.0.0.1:{port}/v1/realtime") as client:
        await until(client, "session.created")
        began = trio.current_time()
        await client.send(ev.InputAudioBufferClear())
        await until(client, "input_audio_buffer.cleared")
        return trio.current_time() - began


async def test_pacing_keeps_the_recorded_delay_of_each_answer(tmp_path: Path) -> None:
    path = paced_cassette(tmp_path)
    for pace, low, high in ((True, 0.3, 1.0), (False, 0.0, 0.2)):
        server = CassetteServer(path, pace=pace)
        async with trio.open_nursery() as nursery:
            await nursery.start(server.serve, "127.0.0.1", 0)
            took = await clear_round_trip(server.port)
            server.shutdown()
        assert low <= took < high, (pace, took)


async def test_a_diverging_client_is_told_where(tmp_path: Path) -> None:
    path, _ = await record(tmp_path)
    server = CassetteServer(path)
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve, "127.0.0.1", 0)
        async with connect(f"ws://127.0.0.1:{server.port}/v1/realtime", dialect="beta") as client:
            await until(client, "session.created")
            await client.send(beta.ResponseCreate())  # the recording has a session.update here
            events, code = await ending(client)
        server.shutdown()
    assert code == 1008
    error = events[-1].error
    assert error.code == "cassette_divergence"
    assert (
        "client event 1 is 'response.create', the recording has 'session.update' (line 3"
        in error.message
    )
    [divergence] = server.divergences
    assert (divergence.index, divergence.sent, divergence.recorded) == (
        1,
        "response.create",
        "session.update",
    )


async def test_a_client_of_the_other_dialect_is_refused(tmp_path: Path) -> None:
    path, _ = await record(tmp_path)
    server = CassetteServer(path)
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve, "127.0.0.1", 0)
        with pytest.raises(HandshakeError, match="400"):
            async with connect(f"ws://127.0.0.1:{server.port}/v1/realtime", dialect="ga"):
                pass
        server.shutdown()


def test_a_file_that_is_not_a_cassette_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "x.jsonl"
    bad.write_text('{"type":"session.created"}\n')
    with pytest.raises(ValueError, match="x.jsonl:1: not a cassette header"):
        read_cassette(bad)


def test_rtcore_serve_plays_a_cassette(tmp_path: Path) -> None:
    path, live = trio.run(record, tmp_path)
    with rtcore_serve("--backend", f"cassette:{path}") as served:
        replayed = trio.run(script, f"ws://127.0.0.1:{served.port}/v1/realtime")
    assert replayed == live


def test_rtcore_serve_reports_the_first_divergent_event(tmp_path: Path) -> None:
    path, _ = trio.run(record, tmp_path)

    async def stray(port: int) -> tuple[list[object], int]:
        async with connect(f"ws://127.0.0.1:{port}/v1/realtime", dialect="beta") as client:
            await until(client, "session.created")
            await client.send(beta.ResponseCreate(event_id="evt_mine"))
            return await ending(client)

    with rtcore_serve("--backend", f"cassette:{path}") as served:
        events, code = trio.run(stray, served.port)
    error = events[-1].error  # type: ignore[attr-defined]
    assert code == 1008 and error.event_id == "evt_mine"
    report = "client event 1 is 'response.create', the recording has 'session.update' (line 3"
    assert report in error.message
    assert "cassette: client event 1 is 'response.create'" in served.log


def test_rtcore_serve_paces_a_cassette_with_realtime(tmp_path: Path) -> None:
    path = paced_cassette(tmp_path)
    for flags, low, high in ((["--realtime"], 0.3, 1.5), ([], 0.0, 0.25)):
        with rtcore_serve("--backend", f"cassette:{path}", *flags) as served:
            took = trio.run(clear_round_trip, served.port)
        assert low <= took < high, (flags, took)


async def test_faults_apply_to_a_cassette(tmp_path: Path) -> None:
    path = paced_cassette(tmp_path)
    server = CassetteServer(path, faults=[parse_fault("close=4003,after=2")])
    async with trio.open_nursery() as nursery:
        await nursery.start(server.serve, "127.0.0.1", 0)
        async with connect(f"ws://127.0.0.1:{server.port}/v1/realtime") as client:
            await until(client, "session.created")
            await client.send(ev.InputAudioBufferClear())
            events, code = await ending(client)
        server.shutdown()
    assert [e.type for e in events] == ["input_audio_buffer.cleared"] and code == 4003


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "No such file"),
        ('{"type":"session.created"}\n', "not a cassette header"),
    ],
)
def test_rtcore_serve_names_a_cassette_it_cannot_play(
    tmp_path: Path, content: str | None, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.jsonl"
    if content is not None:
        path.write_text(content)
    assert main(["serve", "--backend", f"cassette:{path}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rtcore serve: ") and message in err and str(path) in err


def test_the_upstream_side_is_not_played(tmp_path: Path) -> None:
    path, _ = trio.run(record, tmp_path)
    upstream = path.with_suffix(".upstream.jsonl")
    assert upstream.exists()
    with pytest.raises(ValueError, match="play NAME.jsonl"):
        CassetteServer(upstream)
