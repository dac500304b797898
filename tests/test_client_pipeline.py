"""The client pipeline's shortcuts keep the snapshot API: every snapshot is a value nobody changes.

Transitions count an event in the snapshot they have just built (``apply``), and an item added
at the end of the conversation is placed in one copy: no snapshot handed out earlier may change,
on the real traces in both dialects.
"""

from __future__ import annotations

import pytest
from conftest import CAPTURES

from benchmarks.workloads import audio_response, in_ga
from rtcore import ClientSession
from rtcore.events import Dialect, beta, ga
from rtcore.state import Snapshot

TRACES = sorted(CAPTURES.glob("*.server-events.jsonl"))


def _snapshots(lines: list[bytes], dialect: Dialect) -> list[Snapshot]:
    client = ClientSession(dialect=dialect)
    kept = [client.state]
    for line in lines:
        client.receive_message(line)
        kept.append(client.state)
    return kept


@pytest.mark.parametrize("dialect", ["beta", "ga"])
@pytest.mark.parametrize("trace", TRACES, ids=[t.name.split(".")[0] for t in TRACES])
def test_every_snapshot_of_a_real_trace_stays_as_it_was(trace: object, dialect: Dialect) -> None:
    lines = trace.read_bytes().splitlines()  # type: ignore[attr-defined]
    if dialect == "ga":
        lines = in_ga(lines)
    kept = _snapshots(lines, dialect)
    again = _snapshots(lines, dialect)
    assert not kept[-1].protocol_errors and not kept[-1].anomalies
    for n, (snapshot, fresh) in enumerate(zip(kept, again, strict=True)):
        assert snapshot.events_applied == n  # counted once, in its own snapshot only
        assert snapshot == fresh
        assert snapshot.to_dict() == fresh.to_dict()
    # Each step made a new snapshot: none is shared between two events.
    assert len({id(s) for s in kept}) == len(kept)


@pytest.mark.parametrize("dialect", ["beta", "ga"])
def test_an_audio_response_keeps_every_earlier_snapshot(dialect: Dialect) -> None:
    lines = audio_response(50, 20, transcript_every=5)
    if dialect == "ga":
        lines = in_ga(lines)
    kept = _snapshots(lines, dialect)
    sizes = [
        sum(p.audio.size for item in s.items for p in item.content if p.audio is not None)
        for s in kept
    ]
    assert sizes == sorted(sizes) and sizes[-1] == 50 * 960
    assert [s.events_applied for s in kept] == list(range(len(kept)))
    assert kept == _snapshots(lines, dialect)


@pytest.mark.parametrize("dialect", ["beta", "ga"])
def test_receive_message_is_decode_then_receive_event(dialect: Dialect) -> None:
    from rtcore.events import decode_server_event

    lines = in_ga(TRACES[0].read_bytes().splitlines()) if dialect == "ga" else []
    lines = lines or TRACES[0].read_bytes().splitlines()
    # Bad input too: a malformed message, an unknown event, a delta for no item.
    lines = [b"{", b'{"type":"no.such.event"}', *lines[:40]]
    lines.insert(10, lines[-1].replace(b'"item_id":"', b'"item_id":"x'))
    by_message, by_event = ClientSession(dialect=dialect), ClientSession(dialect=dialect)
    for line in lines:
        got = by_message.receive_message(line)
        try:
            event = decode_server_event(line, dialect=dialect)
        except Exception:
            continue
        [expected] = [by_event.receive_event(event)]
        assert type(got[0]) is type(expected)
        assert by_message.state.session == by_event.state.session
        assert by_message.reported_session == by_event.reported_session
    assert by_message.state.protocol_errors  # the bad lines were recorded
    assert by_message.state.unknown_events == by_event.state.unknown_events == 1
    assert by_message.state.conversation == by_event.state.conversation


def test_every_session_report_is_watched() -> None:
    # ``receive_message`` takes an unwatched event's step alone; an event that can change the
    # session must be watched, or ``reported_session`` would miss it.
    from rtcore.client import _UNWATCHED, _WATCHED
    from rtcore.events import beta, ga

    reports = [
        kind
        for kind in (*beta.SERVER_EVENTS.values(), *ga.SERVER_EVENTS.values())
        if "session" in kind.__struct_fields__
    ]
    assert len(reports) == 6
    for kind in reports:
        assert kind in _WATCHED and kind not in _UNWATCHED


@pytest.mark.parametrize("dialect", ["beta", "ga"])
def test_the_reported_session_follows_created_and_updated(dialect: Dialect) -> None:
    lines = TRACES[0].read_bytes().splitlines()
    if dialect == "ga":
        lines = in_ga(lines)
    client = ClientSession(dialect=dialect)
    seen = []
    for line in lines:
        [event] = client.receive_message(line)
        if "session" in type(event).__struct_fields__:
            seen.append(event)
            assert client.reported_session is event.session  # type: ignore[attr-defined]
    assert len(seen) == 2  # session.created, then session.updated


@pytest.mark.parametrize("dialect", ["beta", "ga"])
def test_audio_deltas_lock_the_voice_then_go_unwatched(dialect: Dialect) -> None:
    lines = audio_response(5, 20)
    if dialect == "ga":
        lines = in_ga(lines)
    client = ClientSession(dialect=dialect)
    for line in lines:
        client.receive_message(line)
    assert client._audio_produced and not client.state.protocol_errors
    kind = beta.ResponseAudioDelta if dialect == "beta" else ga.ResponseOutputAudioDelta
    assert kind in client._unwatched  # one watch was enough
    resumed = ClientSession(dialect=dialect, state=client.state)
    assert resumed._audio_produced and kind in resumed._unwatched
    assert kind not in ClientSession(dialect=dialect)._unwatched
