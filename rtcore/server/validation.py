"""The server's rules for what clients may ask, and the errors it answers with.

The codec has already checked types, enum values, required fields and
unknown fields (strict mode). This module checks what it cannot: ranges
(EVENTS.md 2.1, 2.6: temperature 0.6-1.2, output tokens 1-4096 or ``"inf"``,
threshold 0-1, metadata sizes), combinations (modalities, tool choices that
name existing tools), the voice lock (``cannot_update_voice``), the model
lock, and the item rules of SEQUENCES.md 8.4 (content types per role,
required content fields, assistant audio, item references). Every failure is
an ``Invalid`` carrying the protocol's error code, a message in the service's
style, and the dotted ``param``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from msgspec.structs import replace

from .. import events as ev
from ..audio.formats import FORMATS
from .config import TRANSCRIPTION_MODELS, default_turn_detection
from .effects import ResponseSettings

__all__ = [
    "Invalid",
    "merge_session",
    "response_settings",
    "check_item",
    "decode_error_message",
]


class Invalid(Exception):
    """A client request the server refuses: the content of an ``error`` event."""

    def __init__(self, code: str | None, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param


def _value(param: str, value: Any, allowed: Iterable[Any] | None = None, why: str = "") -> Invalid:
    message = f"Invalid value: {value!r}."
    if allowed is not None:
        message += " Supported values are: " + ", ".join(repr(a) for a in allowed) + "."
    if why:
        message += " " + why
    return Invalid("invalid_value", message, param)


def _range(param: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise Invalid(
            "invalid_value",
            f"Invalid '{param}': expected a value between {low:g} and {high:g}, but got {value:g} instead.",
            param,
        )


def _missing(param: str) -> Invalid:
    return Invalid("missing_required_parameter", f"Missing required parameter: '{param}'.", param)


def decode_error_message(error: ev.DecodeError) -> str:
    """The service-style message for a message the codec refused."""
    path, reason = error.path, error.reason
    if error.code == "unknown_parameter":
        return f"Unknown parameter: '{path}'."
    if error.code == "missing_required_parameter":
        if path == "type":
            return "The 'type' field is missing."
        return f"Missing required parameter: '{path}'."
    if error.code == "invalid_type":
        return f"Invalid type for '{path}': {reason}."
    if error.code == "invalid_value":
        return f"Invalid value for '{path}': {reason}."
    if path == "type":
        return "The 'type' field is missing."
    return f"Invalid event: {reason}."


# -- the session ------------------------------------------------------------------------


def _check_modalities(param: str, modalities: tuple[str, ...]) -> None:
    if sorted(modalities) not in (["text"], ["audio", "text"]):
        raise Invalid(
            "invalid_value",
            f"Invalid modalities: {list(modalities)!r}. Supported combinations are: ['text'] and ['audio', 'text'].",
            param,
        )


def _check_max_tokens(param: str, value: ev.MaxTokens) -> None:
    if value != "inf":
        assert isinstance(value, int)
        _range(param, value, 1, 4096)


def _check_tools(param: str, tools: tuple[ev.Tool, ...]) -> tuple[ev.Tool, ...]:
    seen: set[str] = set()
    out = []
    for i, tool in enumerate(tools):
        if not tool.name:
            raise _missing(f"{param}[{i}].name")
        if tool.name in seen:
            raise Invalid(
                "invalid_value", f"Duplicate tool name: '{tool.name}'.", f"{param}[{i}].name"
            )
        seen.add(tool.name)
        out.append(replace(tool, type="function"))
    return tuple(out)


def _check_tool_choice(param: str, choice: ev.ToolChoice, tools: tuple[ev.Tool, ...]) -> None:
    names = {tool.name for tool in tools}
    if isinstance(choice, ev.ToolChoiceFunction):
        name = choice.function_name
        if name is None:
            raise _missing(f"{param}.name")
        if name not in names:
            raise Invalid(
                "invalid_value", f"Tool choice '{name}' names no tool of this session.", param
            )
    elif choice not in ("auto", "none", "required") and choice not in names:
        raise _value(
            param, choice, ["auto", "none", "required"], "Or the name of one of the tools."
        )
    if choice == "required" and not tools:
        raise Invalid("invalid_value", "Tool choice 'required' needs at least one tool.", param)


def _turn_detection(param: str, given: ev.TurnDetection) -> ev.TurnDetection:
    """Server VAD with every field filled in, or semantic VAD (GA.md 2.3).

    ``semantic_vad`` takes ``eagerness`` (``auto`` when absent, echoed as such),
    ``create_response`` and ``interrupt_response``; the loudness fields of
    server VAD (``threshold``, ``prefix_padding_ms``, ``silence_duration_ms``,
    ``idle_timeout_ms``) do not exist there and are ``unknown_parameter``, as
    the GA schema has it; a null ``idle_timeout_ms`` counts as absent.
    ``eagerness`` is likewise unknown in server VAD.
    """
    base = default_turn_detection()
    kind = base.type if isinstance(given.type, ev.UnsetType) else given.type
    if kind not in ("server_vad", "semantic_vad"):
        raise _value(f"{param}.type", kind, ["server_vad", "semantic_vad"])
    create = _either(given.create_response, base.create_response, True)
    interrupt = _either(given.interrupt_response, base.interrupt_response, True)
    if kind == "semantic_vad":
        for name in ("threshold", "prefix_padding_ms", "silence_duration_ms", "idle_timeout_ms"):
            value = getattr(given, name)
            if value is not None and not isinstance(value, ev.UnsetType):
                raise Invalid(
                    "unknown_parameter",
                    f"Unknown parameter: '{param}.{name}' (semantic_vad has no {name}).",
                    f"{param}.{name}",
                )
        return ev.TurnDetection(
            type="semantic_vad",
            eagerness=_either(given.eagerness, ev.UNSET, "auto"),
            create_response=create,
            interrupt_response=interrupt,
        )
    if not isinstance(given.eagerness, ev.UnsetType):
        raise Invalid(
            "unknown_parameter", f"Unknown parameter: '{param}.eagerness'.", f"{param}.eagerness"
        )
    merged = ev.TurnDetection(
        type="server_vad",
        threshold=_either(given.threshold, base.threshold, 0.5),
        prefix_padding_ms=_either(given.prefix_padding_ms, base.prefix_padding_ms, 300),
        silence_duration_ms=_either(given.silence_duration_ms, base.silence_duration_ms, 200),
        create_response=create,
        interrupt_response=interrupt,
        idle_timeout_ms=given.idle_timeout_ms,
    )
    assert isinstance(merged.threshold, float | int)
    _range(f"{param}.threshold", merged.threshold, 0.0, 1.0)
    assert isinstance(merged.prefix_padding_ms, int) and isinstance(merged.silence_duration_ms, int)
    _range(f"{param}.prefix_padding_ms", merged.prefix_padding_ms, 0, 10000)
    _range(f"{param}.silence_duration_ms", merged.silence_duration_ms, 0, 10000)
    if isinstance(merged.idle_timeout_ms, int):
        _range(f"{param}.idle_timeout_ms", merged.idle_timeout_ms, 5000, 30000)
    return merged


def _transcription(param: str, given: ev.InputAudioTranscription) -> ev.InputAudioTranscription:
    model = "whisper-1" if isinstance(given.model, ev.UnsetType) else given.model
    if model not in TRANSCRIPTION_MODELS:
        raise _value(f"{param}.model", model, TRANSCRIPTION_MODELS)
    return ev.InputAudioTranscription(
        model=model,
        language=None if isinstance(given.language, ev.UnsetType) else given.language,
        prompt=None if isinstance(given.prompt, ev.UnsetType) else given.prompt,
    )


_INCLUDE = ("item.input_audio_transcription.logprobs",)


def merge_session(
    current: ev.Session, update: ev.SessionConfig, *, audio_produced: bool
) -> ev.Session:
    """The session after ``session.update``: only the fields present change; all-or-nothing."""
    changes: dict[str, Any] = {}
    for name in update.__struct_fields__:
        value = getattr(update, name)
        if not isinstance(value, ev.UnsetType):
            changes[name] = value
    p = "session"
    if "modalities" in changes:
        _check_modalities(f"{p}.modalities", changes["modalities"])
    if "voice" in changes and changes["voice"] != current.voice and audio_produced:
        raise Invalid(
            "cannot_update_voice",
            "Cannot update a conversation's voice if assistant audio is present.",
            f"{p}.voice",
        )
    if "model" in changes and changes["model"] != current.model:
        raise Invalid(
            "invalid_value",
            f"The model of a session cannot be changed (it is '{current.model}').",
            f"{p}.model",
        )
    if isinstance(changes.get("turn_detection"), ev.TurnDetection):
        changes["turn_detection"] = _turn_detection(
            f"{p}.turn_detection", changes["turn_detection"]
        )
    if isinstance(changes.get("input_audio_transcription"), ev.InputAudioTranscription):
        changes["input_audio_transcription"] = _transcription(
            f"{p}.input_audio_transcription", changes["input_audio_transcription"]
        )
    if "tools" in changes:
        changes["tools"] = _check_tools(f"{p}.tools", changes["tools"])
    if "temperature" in changes:
        _range(f"{p}.temperature", changes["temperature"], 0.6, 1.2)
    if "max_response_output_tokens" in changes:
        _check_max_tokens(f"{p}.max_response_output_tokens", changes["max_response_output_tokens"])
    if "speed" in changes:
        _range(f"{p}.speed", changes["speed"], 0.25, 1.5)
    if isinstance(changes.get("include"), tuple):
        for i, entry in enumerate(changes["include"]):
            if entry not in _INCLUDE:
                raise _value(f"{p}.include[{i}]", entry, _INCLUDE)
    merged = replace(current, **changes)
    tools = () if isinstance(merged.tools, ev.UnsetType) else merged.tools
    choice = "auto" if isinstance(merged.tool_choice, ev.UnsetType) else merged.tool_choice
    if "tool_choice" in changes or "tools" in changes:
        _check_tool_choice(f"{p}.tool_choice", choice, tools)
    return merged


# -- responses -------------------------------------------------------------------------------


def _metadata(param: str, metadata: dict[str, str] | None) -> None:
    if metadata is None:
        return
    if len(metadata) > 16:
        raise Invalid(
            "invalid_value", f"Invalid '{param}': at most 16 pairs, got {len(metadata)}.", param
        )
    for key, value in metadata.items():
        if len(key) > 64:
            raise Invalid(
                "invalid_value",
                f"Invalid '{param}': key {key[:20]!r}… is longer than 64 characters.",
                param,
            )
        if len(value) > 512:
            raise Invalid(
                "invalid_value",
                f"Invalid '{param}.{key}': value is longer than 512 characters.",
                f"{param}.{key}",
            )


def response_settings(
    session: ev.Session, params: ev.ResponseParams | ev.UnsetType, *, audio_produced: bool
) -> ResponseSettings:
    """The effective settings of a ``response.create``: its overrides over the session."""
    own = ev.ResponseParams() if isinstance(params, ev.UnsetType) else params
    p = "response"
    if not isinstance(own.modalities, ev.UnsetType):
        _check_modalities(f"{p}.modalities", own.modalities)
    if not isinstance(own.voice, ev.UnsetType) and own.voice != session.voice and audio_produced:
        raise Invalid(
            "cannot_update_voice",
            "Cannot update a conversation's voice if assistant audio is present.",
            f"{p}.voice",
        )
    tools = _either(own.tools, session.tools, ())
    if not isinstance(own.tools, ev.UnsetType):
        tools = _check_tools(f"{p}.tools", own.tools)
    default_choice: ev.ToolChoice = "auto"
    choice = _either(own.tool_choice, session.tool_choice, default_choice)
    if not isinstance(own.tool_choice, ev.UnsetType) or not isinstance(own.tools, ev.UnsetType):
        _check_tool_choice(f"{p}.tool_choice", choice, tools)
    if not isinstance(own.temperature, ev.UnsetType):
        _range(f"{p}.temperature", own.temperature, 0.6, 1.2)
    # max_output_tokens is the Oct 2024 draft's name for the same cap.
    cap_name, cap = "max_response_output_tokens", own.max_response_output_tokens
    if isinstance(cap, ev.UnsetType) and not isinstance(own.max_output_tokens, ev.UnsetType):
        cap_name, cap = "max_output_tokens", own.max_output_tokens
    if not isinstance(cap, ev.UnsetType):
        _check_max_tokens(f"{p}.{cap_name}", cap)
    metadata = None if isinstance(own.metadata, ev.UnsetType) else own.metadata
    _metadata(f"{p}.metadata", metadata)
    return ResponseSettings(
        modalities=tuple(_either(own.modalities, session.modalities, ("text", "audio"))),
        instructions=_either(own.instructions, session.instructions, ""),
        voice=_either(own.voice, session.voice, "alloy"),
        output_audio_format=_either(own.output_audio_format, session.output_audio_format, "pcm16"),
        tools=tuple(tools),
        tool_choice=choice,
        temperature=float(_either(own.temperature, session.temperature, 0.8)),
        max_output_tokens=_either(cap, session.max_response_output_tokens, "inf"),
        conversation=_either(own.conversation, "auto", "auto"),
        metadata=metadata,
    )


T = TypeVar("T")


def _either(own: T | ev.UnsetType, session: T | ev.UnsetType, default: T) -> T:
    """The response's own value, else the session's, else the protocol default."""
    if not isinstance(own, ev.UnsetType):
        return own
    return default if isinstance(session, ev.UnsetType) else session


# -- items -----------------------------------------------------------------------------------

_PARTS_BY_ROLE = {
    "user": ("input_text", "input_audio"),
    "system": ("input_text",),
    "assistant": ("text",),
}


def check_item(item: ev.Item, param: str, input_format: ev.AudioFormat) -> None:
    """The rules of SEQUENCES.md 8.4 for an item a client creates (or puts in ``response.input``)."""
    if isinstance(item, ev.MessageItem):
        if isinstance(item.content, ev.UnsetType):
            raise _missing(f"{param}.content")
        allowed = _PARTS_BY_ROLE[item.role]
        for i, part in enumerate(item.content):
            where = f"{param}.content[{i}]"
            if part.type not in allowed:
                if item.role == "assistant" and part.type == "audio":
                    raise Invalid(
                        "invalid_value",
                        "Assistant messages cannot carry audio; use a 'text' part.",
                        f"{where}.type",
                    )
                raise _value(
                    f"{where}.type",
                    part.type,
                    allowed,
                    f"A {item.role} message accepts these content types.",
                )
            if isinstance(part, ev.InputAudioContent):
                if isinstance(part.audio, ev.UnsetType):
                    raise _missing(f"{where}.audio")
                width = FORMATS[input_format].sample_width
                if len(part.audio) % width:
                    raise Invalid(
                        "invalid_value",
                        f"Invalid audio: {len(part.audio)} bytes is not a whole number of {input_format} samples.",
                        f"{where}.audio",
                    )
    elif isinstance(item, ev.FunctionCallItem):
        for name in ("call_id", "name", "arguments"):
            if isinstance(getattr(item, name), ev.UnsetType):
                raise _missing(f"{param}.{name}")
    elif isinstance(item.output, ev.UnsetType):
        raise _missing(f"{param}.output")
    if isinstance(item.id, str) and not item.id:
        raise Invalid("invalid_value", "Item ids cannot be empty.", f"{param}.id")
