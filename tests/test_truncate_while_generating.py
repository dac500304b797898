"""``conversation.item.truncate`` on audio still being generated
(docs/protocol/flows.md#truncate-while-generating).

The response is cancelled first, as by ``response.cancel`` (``response.done`` with
``status: "cancelled"``, reason ``client_cancelled``, the backend told by ``CancelResponse``), then
the item is truncated at ``audio_end_ms``. The messages are the ones the Python Agents SDK's
``RealtimeSession.interrupt()`` sends with ``interrupt_response`` on (its default semantic VAD): a
``conversation.item.truncate`` alone, naming the item playing and the milliseconds played (at most
the audio received). A refused truncation cancels nothing; a cancel sent after the truncation finds
nothing to cancel, as after any response's end.
"""

from __future__ import annotations

from typing import Any

import pytest
from serverkit import Harness, errors, tone

from rtcore import events as ev
from rtcore.server import CancelResponse

SDK_SESSION = {
    "type": "realtime",
    "model": "gpt-realtime",
    "audio": {"input": {"turn_detection": {"type": "semantic_vad", "interrupt_response": True}}},
}


def speaking(dialect: ev.Dialect = "ga") -> tuple[Harness, str, str]:
    """A session whose model is in the middle of an audio answer: the harness, response, item."""
    h = Harness(dialect=dialect)
    if dialect == "ga":
        h.send({"type": "session.update", "session": SDK_SESSION})
    h.new()
    start = h.start(h.send({"type": "response.create"}))
    h.server.add_audio(start.response_id, tone(300))
    h.server.add_transcript(start.response_id, "Hello there")
    h.pump()
    [item_id] = [i for i in h.server.state.order]
    h.new()
    return h, start.response_id, item_id


def truncate(item_id: str, ms: int) -> dict[str, Any]:
    # Exactly what agents.realtime.openai_realtime sends (event_id left to the SDK's transport).
    return {
        "type": "conversation.item.truncate",
        "item_id": item_id,
        "content_index": 0,
        "audio_end_ms": ms,
    }


@pytest.mark.parametrize("dialect", ["ga", "beta"])
def test_the_agents_sdk_interrupt_cancels_then_truncates(dialect: ev.Dialect) -> None:
    h, response_id, item_id = speaking(dialect)
    effects = h.send(truncate(item_id, 120))
    assert effects == [CancelResponse(response_id=response_id, reason="client_cancelled")]
    events = h.new()
    types = [e.type for e in events]
    audio_done = "response.output_audio.done" if dialect == "ga" else "response.audio.done"
    assert types[0] == audio_done
    assert types[-2:] == ["response.done", "conversation.item.truncated"]
    response = events[-2].response
    assert response.status == "cancelled"
    assert response.status_details.reason == "client_cancelled"
    truncated = events[-1]
    assert truncated.audio_end_ms == 120
    assert not h.server.is_active(response_id)
    part = h.server.state.item(item_id).content[0]  # type: ignore[union-attr]
    assert part.truncated_at_ms == 120
    assert h.in_step()
    # The backend's late output is refused as after any cancel.
    with pytest.raises(Exception, match="not"):
        h.server.add_audio(response_id, tone(20))


def test_truncating_at_all_the_audio_received_so_far() -> None:
    h, response_id, item_id = speaking()
    h.send(truncate(item_id, 300))
    assert [e.type for e in h.new()][-1] == "conversation.item.truncated"


@pytest.mark.parametrize("ms", [-1, 301])
def test_a_refused_truncation_cancels_nothing(ms: int) -> None:
    h, response_id, item_id = speaking()
    assert h.send(truncate(item_id, ms)) == []
    [error] = errors(h.new())
    assert error.param == "audio_end_ms"
    assert h.server.is_active(response_id)


def test_a_cancel_after_the_truncation_has_nothing_to_cancel() -> None:
    # An SDK that forces a cancel after its truncate (force_response_cancel) gets the usual answer
    # to a cancel with nothing running.
    h, response_id, item_id = speaking()
    h.send(truncate(item_id, 100))
    h.new()
    h.send({"type": "response.cancel", "event_id": "late"})
    [error] = errors(h.new())
    assert (error.code, error.event_id) == ("response_cancel_not_active", "late")


def test_cancel_then_truncate_is_as_before() -> None:
    h, response_id, item_id = speaking()
    effects = h.send({"type": "response.cancel"})
    assert effects == [CancelResponse(response_id=response_id, reason="client_cancelled")]
    h.new()
    assert h.send(truncate(item_id, 100)) == []
    assert [e.type for e in h.new()] == ["conversation.item.truncated"]


def test_the_client_sends_it_as_the_server_takes_it() -> None:
    h, response_id, item_id = speaking()
    event = h.client.truncate_playback(item_id, 150)
    assert event is not None and event.audio_end_ms == 150
    h.client.send(event)  # not refused: the server takes it
    effects = h.send(event)
    assert effects == [CancelResponse(response_id=response_id, reason="client_cancelled")]
    assert h.in_step()
