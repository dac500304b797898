"""Rules of a GA server that beta never had: usage counters, streaming transcription, idle timeouts.

Each test drives a real ``ServerSession`` through the serverkit harness, whose
``ClientSession`` must rebuild the same snapshot from the bytes.
"""

from __future__ import annotations

from typing import Any

import pytest
from serverkit import Harness, errors, silence

from rtcore import events as ev
from rtcore.events import ga
from rtcore.server import AudioChunk, Finish, StartResponse

TEXT = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]}


def done_usage(h: Harness) -> ev.Usage:
    [done] = [e for e in h.new() if e.type == "response.done"]
    usage = done.response.usage  # type: ignore[attr-defined]
    assert isinstance(usage, ev.Usage)
    return usage


def run_response(h: Harness, usage: ev.Usage | None) -> None:
    h.send({"type": "conversation.item.create", "item": TEXT})
    [start] = [e for e in h.send({"type": "response.create"}) if isinstance(e, StartResponse)]
    h.server.produce(start.response_id, Finish(usage=usage))
    h.flush()


@pytest.mark.parametrize(
    "usage",
    [
        None,
        ev.Usage(
            total_tokens=12,
            input_tokens=10,
            output_tokens=2,
            input_token_details=ev.InputTokenDetails(
                cached_tokens=0,
                text_tokens=10,
                audio_tokens=0,
                cached_tokens_details=ev.CachedTokensDetails(text_tokens=0, audio_tokens=0),
            ),
            output_token_details=ev.OutputTokenDetails(text_tokens=2, audio_tokens=0),
        ),
    ],
    ids=["zero", "from the backend"],
)
def test_ga_usage_carries_every_counter_and_beta_keeps_its_own(usage: ev.Usage | None) -> None:
    """docs/protocol/ga.md#response-object: the GA server sends the image counters too; beta has no
    such field."""
    gah = Harness(dialect="ga")
    run_response(gah, usage)
    got = done_usage(gah)
    details = got.input_token_details
    assert isinstance(details, ev.InputTokenDetails)
    assert details.image_tokens == 0
    assert isinstance(details.cached_tokens_details, ev.CachedTokensDetails)
    assert details.cached_tokens_details.image_tokens == 0
    assert gah.in_step()

    beta = Harness(dialect="beta")
    run_response(beta, usage)
    details = done_usage(beta).input_token_details
    assert isinstance(details, ev.InputTokenDetails)
    assert details.image_tokens is ev.UNSET
    assert b"image_tokens" not in b"".join(beta.raw)


def test_ga_usage_keeps_counted_images() -> None:
    counted = ev.Usage(
        total_tokens=5,
        input_tokens=5,
        output_tokens=0,
        input_token_details=ev.InputTokenDetails(
            image_tokens=5, cached_tokens_details=ev.CachedTokensDetails(image_tokens=3)
        ),
    )
    h = Harness(dialect="ga")
    run_response(h, counted)
    details = done_usage(h).input_token_details
    assert isinstance(details, ev.InputTokenDetails)
    assert details.image_tokens == 5
    assert details.cached_tokens_details == ev.CachedTokensDetails(image_tokens=3)


def transcription_update(model: str, turn_detection: Any) -> dict[str, Any]:
    return {
        "type": "session.update",
        "event_id": "u",
        "session": {
            "type": "realtime",
            "audio": {
                "input": {"transcription": {"model": model}, "turn_detection": turn_detection}
            },
        },
    }


@pytest.mark.parametrize("model", ["gpt-realtime-whisper", "gpt-live-transcribe"])
def test_streaming_transcription_models_need_turn_detection_off(model: str) -> None:
    """docs/protocol/ga.md#turn-detection, docs/protocol/ga.md#transcription,
    docs/protocol/flows.md#transcription-session: streaming ASR models reject VAD and need manual
    commits."""
    h = Harness(dialect="ga")
    h.new()
    before = h.server.session
    h.send(transcription_update(model, {"type": "server_vad"}))
    [error] = errors(h.new())
    assert (error.code, error.param, error.event_id) == (
        "invalid_value",
        "session.audio.input.turn_detection",
        "u",
    )
    assert model in error.message
    assert h.server.session == before  # all or nothing

    # The default session has server VAD: choosing the model alone names the model.
    update = transcription_update(model, None)
    del update["session"]["audio"]["input"]["turn_detection"]
    h.send(update)
    [error] = errors(h.new())
    assert error.param == "session.audio.input.transcription.model"

    h.send(transcription_update(model, None))
    [updated] = h.new()
    assert isinstance(updated, ga.SessionUpdated)
    assert h.server.session.turn_detection is None
    # Turning VAD back on while the model streams is refused as well.
    h.send(
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "audio": {"input": {"turn_detection": {"type": "server_vad"}}},
            },
        }
    )
    [error] = errors(h.new())
    assert error.param == "session.audio.input.turn_detection"
    assert h.server.session.turn_detection is None
    assert h.in_step()


def test_batch_transcription_models_keep_turn_detection() -> None:
    h = Harness(dialect="ga")
    h.new()
    h.send(transcription_update("gpt-4o-transcribe", {"type": "server_vad"}))
    [updated] = h.new()
    assert isinstance(updated, ga.SessionUpdated)


def test_idle_timeout_counts_from_the_end_of_the_answers_playback() -> None:
    """docs/protocol/flows.md#idle-timeout: the silent segment starts where the last response's
    audio stops playing."""
    h = Harness(dialect="ga")
    h.send(
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "audio": {
                    "input": {"turn_detection": {"type": "server_vad", "idle_timeout_ms": 5000}}
                },
            },
        }
    )
    h.send({"type": "conversation.item.create", "item": TEXT})
    [start] = [e for e in h.send({"type": "response.create"}) if isinstance(e, StartResponse)]
    h.append_audio(silence(1000))  # the clock runs while the response streams
    h.server.produce(start.response_id, AudioChunk(silence(2000)))
    h.server.produce(start.response_id, Finish())
    h.flush()
    h.new()
    # The answer plays for 2 s after response.done at 1000 ms: silence counts from 3000 ms.
    h.append_audio(silence(6800))
    assert "input_audio_buffer.timeout_triggered" not in h.types()
    h.append_audio(silence(400))
    events = h.new()
    [triggered] = [e for e in events if e.type == "input_audio_buffer.timeout_triggered"]
    assert triggered.audio_start_ms == 3000  # type: ignore[attr-defined]
    assert triggered.audio_end_ms - triggered.audio_start_ms == 5000  # type: ignore[attr-defined]
    assert h.in_step()


def test_ga_refuses_client_event_ids_longer_than_512_characters() -> None:
    """docs/protocol/connection.md#envelope, docs/protocol/ga.md#client-events: a client
    ``event_id`` is at most 512 characters; beta sets no limit."""
    h = Harness(dialect="ga")
    h.new()
    before = h.server.state
    long_id = "e" * 513
    h.send({"type": "conversation.item.create", "event_id": long_id, "item": TEXT})
    [error] = errors(h.new())
    assert (error.code, error.param, error.event_id) == (
        "string_above_max_length",
        "event_id",
        long_id,
    )
    assert h.server.state.order == before.order  # nothing added
    h.send({"type": "conversation.item.create", "event_id": "e" * 512, "item": TEXT})
    assert h.types() == ["conversation.item.added", "conversation.item.done"]
    assert h.in_step()

    beta = Harness(dialect="beta")
    beta.new()
    beta.send({"type": "conversation.item.create", "event_id": long_id, "item": TEXT})
    assert beta.types() == ["conversation.item.created"]


def transcription_with(member: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "session.update",
        "event_id": "u",
        "session": {"type": "realtime", "audio": {"input": {"transcription": member}}},
    }


@pytest.mark.parametrize(
    ("transcription", "param"),
    [
        ({"model": "whisper-1", "delay": "low"}, "delay"),
        ({"model": "gpt-transcribe", "delay": "low"}, "delay"),
        ({"model": "gpt-4o-transcribe", "languages": ["en"]}, "languages"),
        ({"model": "whisper-1", "keywords": ["rtcore"]}, "keywords"),
        ({"model": "gpt-4o-transcribe-diarize", "prompt": "names"}, "prompt"),
    ],
)
def test_transcription_members_only_the_models_that_take_them(
    transcription: dict[str, Any], param: str
) -> None:
    """docs/protocol/ga.md#transcription: ``delay`` is gpt-realtime-whisper's,
    ``languages``/``keywords`` gpt-transcribe's and gpt-live-transcribe's; gpt-4o-transcribe-diarize
    and gpt-realtime-whisper take no prompt."""
    h = Harness(dialect="ga")
    h.new()
    before = h.server.session
    h.send(transcription_with(transcription))
    [error] = errors(h.new())
    assert (error.code, error.param, error.event_id) == (
        "unsupported_parameter",
        f"session.audio.input.transcription.{param}",
        "u",
    )
    assert transcription["model"] in error.message
    assert h.server.session == before


@pytest.mark.parametrize(
    "transcription",
    [
        {"model": "gpt-transcribe", "languages": ["en", "fr"], "keywords": ["rtcore"]},
        {"model": "gpt-4o-transcribe-diarize", "prompt": ""},
        {"model": "whisper-1", "prompt": "rtcore", "language": "en", "delay": None},
    ],
)
def test_transcription_members_the_model_takes(transcription: dict[str, Any]) -> None:
    h = Harness(dialect="ga")
    h.new()
    h.send(transcription_with(transcription))
    [updated] = h.new()
    assert isinstance(updated, ga.SessionUpdated)
    assert h.in_step()


def test_transcription_languages_name_at_least_one() -> None:
    """docs/protocol/ga.md#transcription: ``languages`` is an array of at least one language."""
    h = Harness(dialect="ga")
    h.new()
    h.send(transcription_with({"model": "gpt-transcribe", "languages": []}))
    [error] = errors(h.new())
    assert (error.code, error.param) == (
        "invalid_value",
        "session.audio.input.transcription.languages",
    )


@pytest.mark.parametrize(
    ("tool", "param"),
    [
        ({"connector_id": "connector_myspace"}, "connector_id"),
        ({"tunnel_id": "tunnel_123"}, "tunnel_id"),
        ({"tunnel_id": "tunnel_0123456789ABCDEF0123456789abcdef"}, "tunnel_id"),
    ],
)
def test_mcp_tools_name_a_known_connector_or_a_well_formed_tunnel(
    tool: dict[str, Any], param: str
) -> None:
    """docs/protocol/ga.md#tools: ``connector_id`` is one of eight connectors; ``tunnel_id`` is
    ``tunnel_`` and 32 characters a-z0-9."""
    mcp = {"type": "mcp", "server_label": "docs", **tool}
    h = Harness(dialect="ga")
    h.new()
    h.send(
        {"type": "session.update", "event_id": "u", "session": {"type": "realtime", "tools": [mcp]}}
    )
    [error] = errors(h.new())
    assert (error.code, error.param, error.event_id) == (
        "invalid_value",
        f"session.tools[0].{param}",
        "u",
    )
    assert h.server.session.tools == ()
    h.send({"type": "response.create", "event_id": "r", "response": {"tools": [mcp]}})
    [error] = errors(h.new())
    assert (error.code, error.param) == ("invalid_value", f"response.tools[0].{param}")


@pytest.mark.parametrize(
    "tool",
    [
        {"connector_id": "connector_googlecalendar"},
        {"tunnel_id": "tunnel_0123456789abcdef0123456789abcdef"},
    ],
)
def test_mcp_tools_with_a_connector_or_a_tunnel(tool: dict[str, Any]) -> None:
    h = Harness(dialect="ga")
    h.new()
    mcp = {"type": "mcp", "server_label": "docs", **tool}
    h.send({"type": "session.update", "session": {"type": "realtime", "tools": [mcp]}})
    assert h.types()[0] == "session.updated"
    assert h.in_step()


@pytest.mark.parametrize("status", ["incomplete", "failed"])
def test_only_a_completed_response_has_null_status_details(status: str) -> None:
    """docs/protocol/ga.md#response-object: ``status_details`` is ``null`` for ``in_progress`` and
    ``completed`` only; a response that ends otherwise says so even when the backend gave no
    details."""
    h = Harness(dialect="ga")
    h.no_vad()
    [start] = [e for e in h.send({"type": "response.create"}) if isinstance(e, StartResponse)]
    h.server.produce(start.response_id, Finish(status=status))  # type: ignore[arg-type]
    h.flush()
    [done] = [e for e in h.new() if isinstance(e, ga.ResponseDone)]
    assert done.response.status == status
    assert done.response.status_details == ev.StatusDetails(type=status)  # type: ignore[arg-type]
    # Details the backend gives are kept.
    details = ev.StatusDetails(type="incomplete", reason="max_output_tokens")
    [start] = [e for e in h.send({"type": "response.create"}) if isinstance(e, StartResponse)]
    h.server.produce(start.response_id, Finish(status="incomplete", details=details))
    h.flush()
    [done] = [e for e in h.new() if isinstance(e, ga.ResponseDone)]
    assert done.response.status_details == details
    assert h.in_step()
