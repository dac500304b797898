"""Bad GA input: every refusal is a ``DecodeError`` naming the JSON path and the error code.

Wrong types, enum values and missing members anywhere in the GA objects
(``session.audio.input.turn_detection.threshold: expected number or null, got
string``), bad base64 in audio, and the nesting limit: a message nested
deeper than ``MAX_NESTING_DEPTH`` is refused before any recursive work, in
both roles and both dialects, and brackets inside strings do not count.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from ga_examples import BIG, PCM, ga_server_message
from hypothesis import given
from hypothesis import strategies as st

from rtcore import events as ev
from rtcore.events import DecodeError, encode_event, ga

Decoder = Callable[..., Any]


def decode_ga_server(data: bytes | str, strict: bool = False) -> Any:
    return ev.decode_server_event(data, dialect="ga", strict=strict)


def decode_ga_client(data: bytes | str, strict: bool = False) -> Any:
    return ev.decode_client_event(data, dialect="ga", strict=strict)


DECODERS: dict[str, Decoder] = {"server": decode_ga_server, "client": decode_ga_client}

# -- bad input ---------------------------------------------------------------------------

REALTIME = {"type": "realtime"}
PART = {"response_id": "r", "item_id": "i", "output_index": 0, "content_index": 0}


def _update(**session: Any) -> dict[str, Any]:
    return {"type": "session.update", "event_id": "evt_1", "session": {**REALTIME, **session}}


def _audio_in(**fields: Any) -> dict[str, Any]:
    return _update(audio={"input": fields})


def _item(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "conversation.item.create", "item": item}


def _user(*parts: dict[str, Any]) -> dict[str, Any]:
    return _item({"type": "message", "role": "user", "content": list(parts)})


def _out(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "response.output_item.done",
        "event_id": "e",
        "response_id": "r",
        "output_index": 0,
        "item": item,
    }


MCP_CALL = {"type": "mcp_call", "id": "m", "server_label": "s", "name": "n", "arguments": "{}"}

BAD_GA_INPUTS: list[tuple[str, dict[str, Any], str, str, str]] = [
    # (role, message, path, code, words the message must contain)
    (
        "client",
        _update(type="conversation"),
        "session.type",
        "invalid_value",
        "'realtime', 'transcription'",
    ),
    ("client", _update(type=None), "session.type", "invalid_type", "expected string, got null"),
    ("client", _update(type=["realtime"]), "session.type", "invalid_type", "got array"),
    ("client", _item({"type": {"t": 1}}), "item.type", "invalid_type", "got object"),
    (
        "client",
        _update(tools=[{"type": None, "name": "f"}]),
        "session.tools[0].type",
        "invalid_type",
        "expected string, got null",
    ),
    (
        "client",
        _audio_in(format={"type": "audio/pcm", "rate": 16000}),
        "session.audio.input.format.rate",
        "invalid_value",
        "supported values are: 24000",
    ),
    (
        "client",
        _audio_in(format={"type": "pcm16"}),
        "session.audio.input.format.type",
        "invalid_value",
        "'audio/pcm', 'audio/pcmu', 'audio/pcma'",
    ),
    (
        "client",
        _audio_in(format="pcm16"),
        "session.audio.input.format",
        "invalid_type",
        "expected object or null, got string",
    ),
    (
        "client",
        _audio_in(format={}),
        "session.audio.input.format.type",
        "missing_required_parameter",
        "missing required field",
    ),
    (
        "client",
        _audio_in(turn_detection={"type": "server_vad", "threshold": "high"}),
        "session.audio.input.turn_detection.threshold",
        "invalid_type",
        "expected number or null, got string",
    ),
    (
        "client",
        _audio_in(turn_detection={"type": "semantic_vad", "eagerness": "eager"}),
        "session.audio.input.turn_detection.eagerness",
        "invalid_value",
        "'auto', 'high', 'low', 'medium'",
    ),
    (
        "client",
        _audio_in(turn_detection={"type": "server_vad", "idle_timeout_ms": 1.5}),
        "session.audio.input.turn_detection.idle_timeout_ms",
        "invalid_type",
        "expected integer or null, got number",
    ),
    (
        "client",
        _audio_in(turn_detection={"threshold": 0.5}),
        "session.audio.input.turn_detection.type",
        "missing_required_parameter",
        "missing required field",
    ),
    (
        "client",
        _audio_in(turn_detection={"type": "push_to_talk"}),
        "session.audio.input.turn_detection.type",
        "invalid_value",
        "'server_vad', 'semantic_vad'",
    ),
    (
        "client",
        _audio_in(noise_reduction={"type": "studio"}),
        "session.audio.input.noise_reduction.type",
        "invalid_value",
        "'far_field', 'near_field'",
    ),
    (
        "client",
        _audio_in(transcription={"delay": "instant"}),
        "session.audio.input.transcription.delay",
        "invalid_value",
        "'xhigh'",
    ),
    (
        "client",
        _audio_in(transcription={"languages": "en"}),
        "session.audio.input.transcription.languages",
        "invalid_type",
        "expected array or null, got string",
    ),
    (
        "client",
        _update(audio={"output": {"voice": 7}}),
        "session.audio.output.voice",
        "invalid_type",
        "expected string or object or null, got integer",
    ),
    (
        "client",
        _update(audio={"output": {"voice": {}}}),
        "session.audio.output.voice.id",
        "missing_required_parameter",
        "missing required field",
    ),
    (
        "client",
        _update(audio={"output": {"speed": "fast"}}),
        "session.audio.output.speed",
        "invalid_type",
        "expected number or null, got string",
    ),
    (
        "client",
        _update(output_modalities=["text", "video"]),
        "session.output_modalities[1]",
        "invalid_value",
        "'video'",
    ),
    (
        "client",
        _update(max_output_tokens="lots"),
        "session.max_output_tokens",
        "invalid_value",
        "supported values are: 'inf'",
    ),
    (
        "client",
        _update(max_output_tokens=1.5),
        "session.max_output_tokens",
        "invalid_type",
        "expected integer or string or null, got number",
    ),
    (
        "client",
        _update(tracing="on"),
        "session.tracing",
        "invalid_value",
        "supported values are: 'auto'",
    ),
    (
        "client",
        _update(tracing={"group_id": 1}),
        "session.tracing.group_id",
        "invalid_type",
        "expected string, got integer",
    ),
    (
        "client",
        _update(truncation="sometimes"),
        "session.truncation",
        "invalid_value",
        "'auto', 'disabled'",
    ),
    (
        "client",
        _update(truncation={"type": "retention_ratio"}),
        "session.truncation.retention_ratio",
        "missing_required_parameter",
        "missing required field",
    ),
    (
        "client",
        _update(
            truncation={
                "type": "retention_ratio",
                "retention_ratio": 0.5,
                "token_limits": {"post_instructions": "many"},
            }
        ),
        "session.truncation.token_limits.post_instructions",
        "invalid_type",
        "expected integer, got string",
    ),
    (
        "client",
        _update(prompt={"version": "1"}),
        "session.prompt.id",
        "missing_required_parameter",
        "missing required field",
    ),
    (
        "client",
        _update(reasoning={"effort": "max"}),
        "session.reasoning.effort",
        "invalid_value",
        "'minimal'",
    ),
    (
        "client",
        _update(include=[1]),
        "session.include[0]",
        "invalid_type",
        "expected string, got integer",
    ),
    (
        "client",
        _update(tools=[{"type": "code_interpreter"}]),
        "session.tools[0].type",
        "invalid_value",
        "'function', 'mcp'",
    ),
    (
        "client",
        _update(tools=[{"type": "mcp"}]),
        "session.tools[0].server_label",
        "missing_required_parameter",
        "missing required field",
    ),
    (
        "client",
        _update(tools=[{"type": "mcp", "server_label": "x", "require_approval": "sometimes"}]),
        "session.tools[0].require_approval",
        "invalid_value",
        "'always', 'never'",
    ),
    (
        "client",
        _update(tools=[{"type": "mcp", "server_label": "x", "allowed_callers": ["robot"]}]),
        "session.tools[0].allowed_callers[0]",
        "invalid_value",
        "'direct', 'programmatic'",
    ),
    (
        "client",
        _update(tools=[{"type": "function", "parameters": []}]),
        "session.tools[0].parameters",
        "invalid_type",
        "expected object, got array",
    ),
    (
        "client",
        _update(tool_choice={"type": "function"}),
        "session.tool_choice.name",
        "missing_required_parameter",
        "missing required field",
    ),
    (
        "client",
        _update(tool_choice={"type": "file_search"}),
        "session.tool_choice.type",
        "invalid_value",
        "'function', 'mcp'",
    ),
    (
        "client",
        _user({"type": "input_image", "image_url": "x", "detail": "ultra"}),
        "item.content[0].detail",
        "invalid_value",
        "'auto', 'high', 'low'",
    ),
    (
        "client",
        _user({"type": "output_image"}),
        "item.content[0].type",
        "invalid_value",
        "'input_image'",
    ),
    (
        "client",
        _item(
            {
                "type": "mcp_approval_response",
                "id": "a",
                "approval_request_id": "b",
                "approve": "yes",
            }
        ),
        "item.approve",
        "invalid_type",
        "expected boolean, got string",
    ),
    (
        "client",
        _item({"type": "item_reference", "id": "a"}),
        "item.type",
        "invalid_value",
        "'mcp_approval_response'",
    ),
    (
        "client",
        {"type": "response.create", "response": {"input": [{"type": "item_reference"}]}},
        "response.input[0].id",
        "missing_required_parameter",
        "missing required field",
    ),
    (
        "client",
        {"type": "response.create", "response": {"conversation": 5}},
        "response.conversation",
        "invalid_type",
        "expected string or null, got integer",
    ),
    (
        "client",
        {"type": "response.create", "response": {"metadata": {"k": 1}}},
        "response.metadata[...]",  # msgspec names no dict key
        "invalid_type",
        "expected string, got integer",
    ),
    (
        "client",
        {"type": "response.create", "response": {"audio": {"output": {"format": {"type": "mp3"}}}}},
        "response.audio.output.format.type",
        "invalid_value",
        "'audio/pcm'",
    ),
    (
        "client",
        {"type": "input_audio_buffer.append", "audio": "***"},
        "audio",
        "invalid_value",
        "invalid base64",
    ),
    (
        "client",
        {
            "type": "conversation.item.truncate",
            "item_id": "i",
            "content_index": 0,
            "audio_end_ms": "1",
        },
        "audio_end_ms",
        "invalid_type",
        "expected integer, got string",
    ),
    (
        "server",
        {"type": "response.output_audio.delta", "event_id": "e", **PART, "delta": "not base64!"},
        "delta",
        "invalid_value",
        "invalid base64",
    ),
    (
        "server",
        {
            "type": "response.output_audio.delta",
            "event_id": "e",
            **PART,
            "delta": "QUJD",
            "obfuscation": 5,
        },
        "obfuscation",
        "invalid_type",
        "expected string or null, got integer",
    ),
    (
        "server",
        {
            "type": "response.output_text.delta",
            "event_id": "e",
            **PART,
            "output_index": "0",
            "delta": "x",
        },
        "output_index",
        "invalid_type",
        "expected integer, got string",
    ),
    (
        "server",
        {"type": "input_audio_buffer.dtmf_event_received", "event": "1", "received_at": "now"},
        "received_at",
        "invalid_type",
        "expected integer, got string",
    ),
    (
        "server",
        {"type": "input_audio_buffer.dtmf_event_received", "received_at": 1},
        "event",
        "missing_required_parameter",
        "missing required field",
    ),
    (
        "server",
        _out({**MCP_CALL, "error": {"type": "timeout"}}),
        "item.error.type",
        "invalid_value",
        "'protocol_error', 'tool_execution_error', 'http_error'",
    ),
    (
        "server",
        _out({**MCP_CALL, "error": {"type": "http_error", "code": "500", "message": "x"}}),
        "item.error.code",
        "invalid_type",
        "expected integer, got string",
    ),
    (
        "server",
        _out({"type": "mcp_list_tools", "server_label": "s", "tools": [{"name": "t"}]}),
        "item.tools[0].input_schema",
        "missing_required_parameter",
        "missing required field",
    ),
    (
        "server",
        _out({"type": "mcp_approval_request", "id": "a", "server_label": "s", "name": "n"}),
        "item.arguments",
        "missing_required_parameter",
        "missing required field",
    ),
    (
        "server",
        {
            "type": "response.done",
            "event_id": "e",
            "response": {"id": "r", "status": "done", "output": []},
        },
        "response.status",
        "invalid_value",
        "'cancelled', 'completed'",
    ),
    (
        "server",
        {
            "type": "response.done",
            "event_id": "e",
            "response": {
                "id": "r",
                "status": "completed",
                "output": [],
                "max_output_tokens": "all",
            },
        },
        "response.max_output_tokens",
        "invalid_value",
        "'inf'",
    ),
    (
        "server",
        {
            "type": "session.created",
            "event_id": "e",
            "session": {"type": "realtime", "object": "realtime.transcription_session"},
        },
        "session.object",
        "invalid_value",
        "'realtime.session'",
    ),
    (
        "server",
        {
            "type": "response.content_part.added",
            "event_id": "e",
            **PART,
            "part": {"type": "output_image"},
        },
        "part.type",
        "invalid_value",
        "'text', 'audio'",
    ),
    (
        "server",
        {
            "type": "conversation.item.input_audio_transcription.completed",
            "event_id": "e",
            "item_id": "i",
            "content_index": 0,
            "transcript": "x",
            "usage": {"type": "minutes"},
        },
        "usage.type",
        "invalid_value",
        "'tokens', 'duration'",
    ),
    (
        "server",
        {
            "type": "conversation.item.input_audio_transcription.completed",
            "event_id": "e",
            "item_id": "i",
            "content_index": 0,
            "transcript": "x",
            "languages": [{"code": 1}],
        },
        "languages[0].code",
        "invalid_type",
        "expected string, got integer",
    ),
    (
        "server",
        {"type": "response.mcp_call.in_progress", "event_id": "e", "item_id": "m"},
        "output_index",
        "missing_required_parameter",
        "missing required field",
    ),
]


@pytest.mark.parametrize(
    ("role", "message", "path", "code", "words"),
    BAD_GA_INPUTS,
    ids=[f"{row[2]}-{row[3]}" for row in BAD_GA_INPUTS],
)
def test_bad_ga_input_raises_decode_error_naming_the_path(
    role: str, message: dict[str, Any], path: str, code: str, words: str
) -> None:
    for strict in (False, True):
        with pytest.raises(DecodeError) as info:
            DECODERS[role](json.dumps(message), strict=strict)
        err = info.value
        assert (err.path, err.code) == (path, code)
        assert words in str(err) and str(err).startswith(f"{path}: ")
        assert err.event_type == message["type"]
        assert err.event_id == message.get("event_id")


def test_bad_base64_in_an_output_audio_delta() -> None:
    message = ga_server_message("response.output_audio.delta")
    for bad in ("not base64!", PCM[:-1], PCM + "=", PCM[:100] + "*" + PCM[101:], "QUJD\\n"):
        message["delta"] = bad
        with pytest.raises(DecodeError) as info:
            decode_ga_server(json.dumps(message))
        err = info.value
        assert (err.path, err.code, err.reason) == ("delta", "invalid_value", "invalid base64")
        assert err.event_id == "event_000000000000000000001"


# -- the nesting limit -----------------------------------------------------------------

LIMIT = ev.MAX_NESTING_DEPTH
KNOWN = {
    ("server", "ga"): '{"type":"input_audio_buffer.cleared","event_id":"e","x":%s}',
    ("server", "beta"): '{"type":"input_audio_buffer.cleared","event_id":"e","x":%s}',
    ("client", "ga"): '{"type":"input_audio_buffer.commit","x":%s}',
    ("client", "beta"): '{"type":"input_audio_buffer.commit","x":%s}',
}
ROLES_AND_DIALECTS = sorted(KNOWN)


def _decode(role: str, dialect: str, data: bytes | str, strict: bool = False) -> Any:
    decode = ev.decode_server_event if role == "server" else ev.decode_client_event
    return decode(data, dialect=dialect, strict=strict)


def _nested(depth: int, inner: str = "1", opener: str = "[") -> str:
    """A JSON value ``depth`` levels deep, alternating arrays and objects."""
    out = inner
    for level in range(depth):
        out = f"[{out}]" if (level % 2 == 0) == (opener == "[") else f'{{"k":{out}}}'
    return out


@pytest.mark.parametrize(("role", "dialect"), ROLES_AND_DIALECTS)
def test_nesting_up_to_the_limit_decodes_and_beyond_it_is_refused(role: str, dialect: str) -> None:
    for opener in "[{":
        # The message's own object is the first level.
        fits = KNOWN[role, dialect] % _nested(LIMIT - 1, opener=opener)
        event = _decode(role, dialect, fits)
        assert json.loads(encode_event(event)) == json.loads(fits)
        too_deep = KNOWN[role, dialect] % _nested(LIMIT, opener=opener)
        for data in (too_deep, too_deep.encode()):
            for strict in (False, True):
                with pytest.raises(DecodeError, match=f"nested deeper than {LIMIT} levels"):
                    _decode(role, dialect, data, strict)


@pytest.mark.parametrize(("role", "dialect"), ROLES_AND_DIALECTS)
def test_a_bracket_bomb_is_a_decode_error_not_a_recursion_error(role: str, dialect: str) -> None:
    for data in ("[" * 100_000, "{" * 50_000, '{"a":' * 50_000, "[" * 100_000 + "]" * 100_000):
        with pytest.raises(DecodeError):
            _decode(role, dialect, data)
    unknown_type = '{"type":"no.such.event","x":' + _nested(200) + "}"
    with pytest.raises(DecodeError):
        _decode(role, dialect, unknown_type)


TRICKY_STRINGS = [
    "[" * 200,
    "{" * 200,
    '"[[[[' * 50,  # escaped quotes do not end the string
    "\\" + "[" * 100,  # an escaped backslash before brackets
    '\\\\"' + "{" * 100,  # backslashes and a quote
    "]" * 100 + "[" * 100,
]


@pytest.mark.parametrize(("role", "dialect"), ROLES_AND_DIALECTS)
@pytest.mark.parametrize("text", TRICKY_STRINGS, ids=range(len(TRICKY_STRINGS)))
def test_brackets_inside_strings_do_not_count(role: str, dialect: str, text: str) -> None:
    string = json.dumps(text)
    fits = KNOWN[role, dialect] % f"[{string},{{{string}:{_nested(LIMIT - 3, string)}}}]"
    assert fits.count("[") + fits.count("{") > LIMIT
    event = _decode(role, dialect, fits, strict=False)
    assert json.loads(encode_event(event)) == json.loads(fits)
    too_deep = KNOWN[role, dialect] % f"[{string},{{{string}:{_nested(LIMIT - 2, string)}}}]"
    with pytest.raises(DecodeError, match="nested deeper"):
        _decode(role, dialect, too_deep)


def test_deep_json_schema_in_a_typed_field() -> None:
    # A tool's parameters are any JSON Schema: nesting there counts like anywhere else.
    # Levels: message, session, tools, tool, parameters: the schema starts at level 5.
    def update(depth: int) -> str:
        schema = _nested(depth - 5, opener="{")
        return (
            '{"type":"session.update","session":{"type":"realtime","tools":'
            '[{"type":"function","name":"f","parameters":{"x":' + schema + "}}]}}"
        )

    event = decode_ga_client(update(LIMIT), strict=True)
    assert isinstance(event, ga.SessionUpdate)
    with pytest.raises(DecodeError, match="nested deeper"):
        decode_ga_client(update(LIMIT + 1), strict=True)


MARKED_BOMBS = {
    # A large message holding the audio fast path's marker (in a schema, where any JSON
    # goes) and a bracket bomb: the fast path must not hand the bomb to the parser.
    ("client", "ga"): '{"type":"session.update","session":{"type":"realtime","tools":'
    '[{"type":"function","parameters":{"audio":"%s","x":%s}}]}}',
    ("client", "beta"): '{"type":"session.update","session":{"tools":'
    '[{"name":"f","parameters":{"audio":"%s","x":%s}}]}}',
    ("server", "ga"): '{"type":"session.updated","event_id":"e","session":{"type":"realtime",'
    '"tools":[{"type":"function","parameters":{"delta":"%s","x":%s}}]}}',
    ("server", "beta"): '{"type":"session.updated","event_id":"e","session":{"id":"s",'
    '"tools":[{"name":"f","parameters":{"delta":"%s","x":%s}}]}}',
}


@pytest.mark.parametrize(("role", "dialect"), ROLES_AND_DIALECTS)
def test_a_bracket_bomb_behind_the_audio_marker_is_a_decode_error(role: str, dialect: str) -> None:
    template = MARKED_BOMBS[role, dialect]
    fits = template % (BIG, _nested(LIMIT - 5))  # the schema is at level 5
    assert _decode(role, dialect, fits, strict=True).type.startswith("session.update")
    for depth in (LIMIT - 4, 5000):
        with pytest.raises(DecodeError, match="nested deeper"):
            _decode(role, dialect, template % (BIG, _nested(depth)))


def test_deep_nesting_in_a_large_audio_message_is_refused() -> None:
    head = {"type": "response.output_audio.delta", "event_id": "e", **PART}
    fits = json.dumps({**head, "x": json.loads(_nested(LIMIT - 1)), "delta": BIG})
    assert len(fits) > 2048
    assert isinstance(decode_ga_server(fits), ga.ResponseOutputAudioDelta)
    too_deep = json.dumps({**head, "x": json.loads(_nested(LIMIT)), "delta": BIG})
    with pytest.raises(DecodeError, match="nested deeper"):
        decode_ga_server(too_deep)
    # Brackets inside strings of an audio message do not count either.
    noisy = json.dumps({**head, "obfuscation": "[" * 500, "delta": BIG})
    event = decode_ga_server(noisy)
    assert isinstance(event, ga.ResponseOutputAudioDelta) and event.obfuscation == "[" * 500


# -- the nesting check's shortcut against a plain reading of the depth ---------------------------


def _reference_depth(data: bytes) -> int:
    """The deepest bracket outside strings, reading JSON's escapes one byte at a time."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in data:
        char = chr(byte)
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


STRUCTURAL = st.lists(
    st.sampled_from(["[", "]", "{", "}", '"', "\\", '\\"', "\\\\", "\\n", "a", ":", ","]),
    max_size=200,
).map(lambda parts: "".join(parts).encode())


@given(
    st.one_of(
        STRUCTURAL, st.builds(lambda n, s: b"[" * n + s + b"]" * n, st.integers(0, 80), STRUCTURAL)
    )
)
def test_the_nesting_check_agrees_with_a_plain_reading(data: bytes) -> None:
    # Unbalanced and invalid input included: whatever the shortcut decides must be
    # what the depth says, for valid JSON; for the rest it may only err towards the
    # exact scan, which the reference mirrors (no parity once a string is unclosed).
    from rtcore.events.explain import _check_nesting

    try:
        _check_nesting(data)
        refused = False
    except DecodeError:
        refused = True
    try:
        json.loads(data)
    except ValueError:
        return  # invalid JSON: the parser refuses it either way
    assert refused == (_reference_depth(data) > LIMIT)


@given(
    st.recursive(
        st.one_of(st.none(), st.integers(), st.text(alphabet='ab"\\[]{}\n')),
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.dictionaries(st.text(alphabet='[]{}"\\', max_size=3), inner, max_size=3),
        ),
        max_leaves=80,
    ),
    st.integers(0, 70),
)
def test_valid_json_is_refused_exactly_when_deeper_than_the_limit(value: Any, wrap: int) -> None:
    from rtcore.events.explain import _check_nesting

    for _ in range(wrap):
        value = [value]
    data = json.dumps(value).encode()
    try:
        _check_nesting(data)
        refused = False
    except DecodeError:
        refused = True
    assert refused == (_reference_depth(data) > LIMIT)
