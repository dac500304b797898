"""``ClientSession.prepare``: ``send`` without the encoding, and without reading a decoded event again.

A relay decodes each client event strictly in the client's dialect and then
puts it through two client sessions (the client's mirror and its own
upstream one). ``prepare(event, decoded=True)`` must decide and remember
exactly what ``send`` does, only without the second JSON round trip.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcore import ClientSession, LocalProtocolError
from rtcore import events as ev
from rtcore.events import beta, ga
from rtcore.testing import ga_client_events


def outcome(act: Any) -> tuple[str, Any]:
    try:
        return "sent", act()
    except LocalProtocolError as refused:
        return "refused", (refused.code, refused.param)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_prepare_on_a_decoded_event_decides_and_remembers_what_send_does(
    data: st.DataObject,
) -> None:
    event = data.draw(ga_client_events())
    try:
        decoded = ev.decode_client_event(ev.encode_event(event), dialect="ga", strict=True)
    except ev.DecodeError:
        return  # what the server's decoder refuses never reaches a session
    if isinstance(decoded, ev.UnknownEvent):
        return
    sending, preparing = ClientSession(), ClientSession()
    sent = outcome(lambda: sending.send(decoded))
    prepared = outcome(lambda: ev.encode_event(preparing.prepare(decoded, decoded=True)))
    assert prepared == sent
    if sent[0] == "sent":
        event_id = ev.decode_client_event(sent[1], dialect="ga").event_id
        assert isinstance(event_id, str)
        assert preparing.sent_event(event_id) == sending.sent_event(event_id)


def test_prepare_gives_the_event_an_id_once_and_keeps_one_given() -> None:
    session = ClientSession()
    out = session.prepare(ga.InputAudioBufferClear(), decoded=True)
    assert isinstance(out.event_id, str) and session.sent_event(out.event_id) == out
    again = ClientSession().prepare(out, decoded=True)  # a second session keeps that id
    assert again == out
    assert session.prepare(ga.InputAudioBufferClear(event_id="mine")).event_id == "mine"


def test_a_class_of_the_other_dialect_is_read_again_however_it_is_declared() -> None:
    update = beta.SessionUpdate(session=beta.SessionConfig(instructions="x"))
    for decoded in (False, True):
        with pytest.raises(LocalProtocolError) as refused:
            ClientSession(dialect="ga").prepare(update, decoded=decoded)
        assert (refused.value.code, refused.value.param) == (
            "missing_required_parameter",
            "session.type",
        )


def test_a_refused_event_is_not_remembered() -> None:
    session = ClientSession()
    cancel = ga.ResponseCancel(event_id="c1")
    with pytest.raises(LocalProtocolError):
        session.prepare(cancel, decoded=True)  # no response to cancel
    assert session.sent_event("c1") is None
