"""The server's effective configuration and its rules, shared by both dialects.

A ``session.update`` reaches this module as *changes*: neutral field names of
``rtcore.state.SessionState`` mapped to values in its vocabulary, already
read out of the dialect's wire shape by the connection's edge
(``rtcore.server.beta_edge`` / ``ga_edge``), together with the dotted wire
path of each field so that errors name what the client wrote
(``session.voice`` in beta, ``session.audio.output.voice`` in GA). Here the
values are checked against the protocol's rules and merged, all or nothing:

* ranges: ``threshold`` 0-1, ``prefix_padding_ms`` / ``silence_duration_ms``
  0-10000, ``idle_timeout_ms`` 5000-30000, ``speed`` 0.25-1.5,
  ``max_output_tokens`` 1-4096 or ``"inf"``, ``retention_ratio`` 0-1,
  metadata sizes (16 pairs, keys 64, values 512 characters);
* locks: the model never changes; the voice not once the model has spoken
  (``cannot_update_voice``); tracing not once enabled;
* combinations: exactly one output modality; tool names unique and present;
  streaming transcription models (``gpt-realtime-whisper``,
  ``gpt-live-transcribe``) only with turn detection off; the transcription
  members only some models take (``languages``, ``keywords``, ``delay``,
  ``prompt``: ``unsupported_parameter``);
  an MCP tool names its server (``server_url``, ``connector_id`` - one of
  the known connectors - or ``tunnel_id`` - ``tunnel_`` and 32 of a-z0-9);
  a named tool choice names a configured tool;
* defaults filled the way servers echo them: server VAD with threshold 0.5,
  300 ms padding and 200 ms silence; semantic VAD with ``eagerness`` ``auto``;
  transcription with ``whisper-1``.

``response.create`` overrides are merged over the session the same way into
a ``ResponseSettings``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from msgspec.structs import replace

from .. import events as ev
from ..events import ga
from ..state.session import SessionState
from .config import (
    MCP_CONNECTORS,
    NO_PROMPT_TRANSCRIPTION_MODELS,
    STREAMING_TRANSCRIPTION_MODELS,
    TRANSCRIPTION_MEMBER_MODELS,
    TRANSCRIPTION_MODELS,
)
from .effects import ResponseSettings

__all__ = [
    "Invalid",
    "invalid_value",
    "missing",
    "check_range",
    "merge_config",
    "response_settings",
    "check_metadata",
    "NOT_SET_WHEN_NULL",
]


class Invalid(Exception):
    """A client request the server refuses: the content of an ``error`` event."""

    def __init__(self, code: str | None, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param


def invalid_value(
    param: str, value: Any, allowed: Iterable[Any] | None = None, why: str = ""
) -> Invalid:
    message = f"Invalid value: {value!r}."
    if allowed is not None:
        message += " Supported values are: " + ", ".join(repr(a) for a in allowed) + "."
    if why:
        message += " " + why
    return Invalid("invalid_value", message, param)


def check_range(param: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise Invalid(
            "invalid_value",
            f"Invalid '{param}': expected a value between {low:g} and {high:g}, but got {value:g} instead.",
            param,
        )


def missing(param: str) -> Invalid:
    return Invalid("missing_required_parameter", f"Missing required parameter: '{param}'.", param)


NOT_SET_WHEN_NULL = frozenset(
    {
        "model",
        "output_modalities",
        "instructions",
        "voice",
        "speed",
        "input_format",
        "output_format",
        "tools",
        "tool_choice",
        "max_output_tokens",
        "parallel_tool_calls",
        "truncation",
    }
)
"""Fields for which a JSON ``null`` means "not set" (third-party clients send
``"instructions": null``); for the others ``null`` switches the feature off."""

_INCLUDE = ("item.input_audio_transcription.logprobs",)
_TUNNEL_ID = re.compile(r"tunnel_[a-z0-9]{32}")


def _set(value: Any) -> bool:
    return value is not None and not isinstance(value, ev.UnsetType)


def _turn_detection(
    param: str, given: ga.ServerVad | ga.SemanticVad
) -> ga.ServerVad | ga.SemanticVad:
    """Turn detection with every field filled in as servers echo it (GA.md 2.3)."""
    create = given.create_response if _set(given.create_response) else True
    interrupt = given.interrupt_response if _set(given.interrupt_response) else True
    if isinstance(given, ga.SemanticVad):
        return ga.SemanticVad(
            eagerness=given.eagerness if _set(given.eagerness) else "auto",
            create_response=create,
            interrupt_response=interrupt,
        )
    merged = ga.ServerVad(
        threshold=given.threshold if _set(given.threshold) else 0.5,
        prefix_padding_ms=given.prefix_padding_ms if _set(given.prefix_padding_ms) else 300,
        silence_duration_ms=given.silence_duration_ms if _set(given.silence_duration_ms) else 200,
        idle_timeout_ms=given.idle_timeout_ms if _set(given.idle_timeout_ms) else None,
        create_response=create,
        interrupt_response=interrupt,
    )
    assert isinstance(merged.threshold, float | int)
    check_range(f"{param}.threshold", merged.threshold, 0.0, 1.0)
    assert isinstance(merged.prefix_padding_ms, int) and isinstance(merged.silence_duration_ms, int)
    check_range(f"{param}.prefix_padding_ms", merged.prefix_padding_ms, 0, 10000)
    check_range(f"{param}.silence_duration_ms", merged.silence_duration_ms, 0, 10000)
    if isinstance(merged.idle_timeout_ms, int):
        check_range(f"{param}.idle_timeout_ms", merged.idle_timeout_ms, 5000, 30000)
    return merged


def _unsupported(param: str, model: str) -> Invalid:
    return Invalid(
        "unsupported_parameter",
        f"Unsupported parameter: '{param}' is not supported with transcription model '{model}'.",
        param,
    )


def _transcription(param: str, given: ga.Transcription) -> ga.Transcription:
    model = given.model if _set(given.model) else "whisper-1"
    if model not in TRANSCRIPTION_MODELS:
        raise invalid_value(f"{param}.model", model, TRANSCRIPTION_MODELS)
    # Members only some models take (GA.md 2.5); an empty prompt is the echo's "none".
    for name, models in TRANSCRIPTION_MEMBER_MODELS.items():
        if _set(getattr(given, name)) and model not in models:
            raise _unsupported(f"{param}.{name}", model)
    if given.prompt and model in NO_PROMPT_TRANSCRIPTION_MODELS:
        raise _unsupported(f"{param}.prompt", model)
    if isinstance(given.languages, tuple) and not given.languages:
        raise Invalid(
            "invalid_value",
            f"Invalid '{param}.languages': expected at least one language.",
            f"{param}.languages",
        )
    return replace(
        given,
        model=model,
        language=given.language if _set(given.language) else None,
        prompt=given.prompt if _set(given.prompt) else None,
    )


def _noise(current: ga.NoiseReduction | None, given: ga.NoiseReduction) -> ga.NoiseReduction:
    # Omitting strength keeps the current one (GA.md 2.4).
    if not _set(given.strength) and current is not None and _set(current.strength):
        return replace(given, strength=current.strength)
    return given


def _check_tools(param: str, tools: tuple[ga.Tool, ...]) -> tuple[ga.Tool, ...]:
    names: set[str] = set()
    labels: set[str] = set()
    for i, tool in enumerate(tools):
        where = f"{param}[{i}]"
        if isinstance(tool, ga.McpTool):
            if not (_set(tool.server_url) or _set(tool.connector_id) or _set(tool.tunnel_id)):
                raise missing(f"{where}.server_url")
            if _set(tool.connector_id) and tool.connector_id not in MCP_CONNECTORS:
                raise invalid_value(f"{where}.connector_id", tool.connector_id, MCP_CONNECTORS)
            if isinstance(tool.tunnel_id, str) and not _TUNNEL_ID.fullmatch(tool.tunnel_id):
                raise Invalid(
                    "invalid_value",
                    f"Invalid '{where}.tunnel_id': expected 'tunnel_' followed by 32 characters"
                    " a-z or 0-9.",
                    f"{where}.tunnel_id",
                )
            if tool.server_label in labels:
                raise Invalid(
                    "invalid_value",
                    f"Duplicate MCP server_label: '{tool.server_label}'.",
                    f"{where}.server_label",
                )
            labels.add(tool.server_label)
            continue
        if not isinstance(tool.name, str) or not tool.name:
            raise missing(f"{where}.name")
        if tool.name in names:
            raise Invalid("invalid_value", f"Duplicate tool name: '{tool.name}'.", f"{where}.name")
        names.add(tool.name)
    return tools


def _check_tool_choice(param: str, choice: ga.ToolChoice, tools: tuple[ga.Tool, ...]) -> None:
    names = {t.name for t in tools if isinstance(t, ga.FunctionTool)}
    labels = {t.server_label for t in tools if isinstance(t, ga.McpTool)}
    if isinstance(choice, ga.ToolChoiceFunction):
        if choice.name not in names:
            raise Invalid(
                "invalid_value",
                f"Tool choice '{choice.name}' names no tool of this session.",
                param,
            )
    elif isinstance(choice, ga.ToolChoiceMcp):
        if choice.server_label not in labels:
            raise Invalid(
                "invalid_value",
                f"Tool choice names MCP server '{choice.server_label}', which is not configured.",
                param,
            )
    elif choice not in ("auto", "none", "required") and choice not in names:
        raise invalid_value(
            param, choice, ["auto", "none", "required"], "Or the name of one of the tools."
        )
    if choice == "required" and not tools:
        raise Invalid("invalid_value", "Tool choice 'required' needs at least one tool.", param)


def _check_max_tokens(param: str, value: ev.MaxTokens) -> None:
    if value != "inf":
        assert isinstance(value, int)
        check_range(param, value, 1, 4096)


def _check_modalities(param: str, modalities: tuple[str, ...]) -> None:
    if tuple(modalities) not in (("audio",), ("text",)):
        raise Invalid(
            "invalid_value",
            f"Invalid output_modalities: {list(modalities)!r}. Supported values are ['audio'] and"
            " ['text']; both at once is not possible.",
            param,
        )


def _check_truncation(param: str, value: ga.Truncation) -> None:
    if isinstance(value, ga.RetentionRatioTruncation):
        check_range(f"{param}.retention_ratio", value.retention_ratio, 0.0, 1.0)
        limits = value.token_limits
        if not isinstance(limits, ev.UnsetType) and isinstance(limits.post_instructions, int):
            if limits.post_instructions < 0:
                raise Invalid(
                    "invalid_value",
                    f"Invalid '{param}.token_limits.post_instructions': must not be negative.",
                    f"{param}.token_limits.post_instructions",
                )


def merge_config(
    current: SessionState,
    changes: Mapping[str, Any],
    paths: Mapping[str, str],
    *,
    audio_produced: bool,
) -> SessionState:
    """The session after an update: only the fields in ``changes`` change; all or nothing.

    ``paths`` gives the wire path of each field for error messages.
    """

    def where(name: str) -> str:
        return paths.get(name, f"session.{name}")

    out = dict(changes)
    if "model" in out and out["model"] != current.model:
        raise Invalid(
            "invalid_value",
            f"The model of a session cannot be changed (it is '{current.model}').",
            where("model"),
        )
    if "voice" in out and out["voice"] != current.voice and audio_produced:
        raise Invalid(
            "cannot_update_voice",
            "Cannot update a conversation's voice if assistant audio is present.",
            where("voice"),
        )
    if "output_modalities" in out:
        _check_modalities(where("output_modalities"), out["output_modalities"])
    if out.get("turn_detection") is not None:
        out["turn_detection"] = _turn_detection(where("turn_detection"), out["turn_detection"])
    if out.get("transcription") is not None:
        out["transcription"] = _transcription(where("transcription"), out["transcription"])
    if out.get("noise_reduction") is not None:
        out["noise_reduction"] = _noise(current.noise_reduction, out["noise_reduction"])
    if "tools" in out:
        out["tools"] = _check_tools(where("tools"), tuple(out["tools"]))
    if "max_output_tokens" in out:
        _check_max_tokens(where("max_output_tokens"), out["max_output_tokens"])
    if "speed" in out:
        check_range(where("speed"), out["speed"], 0.25, 1.5)
    if isinstance(out.get("include"), tuple):
        for i, entry in enumerate(out["include"]):
            if entry not in _INCLUDE:
                raise invalid_value(f"{where('include')}[{i}]", entry, _INCLUDE)
    if "truncation" in out:
        _check_truncation(where("truncation"), out["truncation"])
    if "tracing" in out and current.tracing is not None and out["tracing"] != current.tracing:
        raise Invalid(
            "invalid_value",
            "Tracing cannot be modified once it is enabled for a session.",
            where("tracing"),
        )
    merged = replace(current, **out)
    if "tool_choice" in out or "tools" in out:
        _check_tool_choice(where("tool_choice"), merged.tool_choice or "auto", merged.tools)
    _check_streaming_transcription(merged, out, where)
    return merged


def _check_streaming_transcription(
    merged: SessionState, changes: Mapping[str, Any], where: Any
) -> None:
    """Streaming transcription models reject turn detection (GA.md 2.3, 2.5, 10.15)."""
    transcription = merged.transcription
    if (
        transcription is None
        or transcription.model not in STREAMING_TRANSCRIPTION_MODELS
        or merged.turn_detection is None
    ):
        return
    param = (
        where("turn_detection")
        if "turn_detection" in changes
        else f"{where('transcription')}.model"
    )
    raise Invalid(
        "invalid_value",
        f"Transcription model '{transcription.model}' streams its transcript and does not support"
        " turn detection: set turn_detection to null and commit the input audio buffer.",
        param,
    )


def check_metadata(param: str, metadata: dict[str, str] | None) -> None:
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
    config: SessionState,
    overrides: Mapping[str, Any],
    paths: Mapping[str, str],
    *,
    audio_produced: bool,
    temperature: float | None = None,
) -> ResponseSettings:
    """The effective settings of a response: its ``overrides`` over the session (GA.md 2.10).

    ``overrides`` holds neutral field names as ``merge_config``'s changes do,
    plus ``conversation``, ``metadata`` and ``temperature`` (beta).
    """

    def where(name: str) -> str:
        return paths.get(name, f"response.{name}")

    own = dict(overrides)
    if "output_modalities" in own:
        _check_modalities(where("output_modalities"), own["output_modalities"])
    if "voice" in own and own["voice"] != config.voice and audio_produced:
        raise Invalid(
            "cannot_update_voice",
            "Cannot update a conversation's voice if assistant audio is present.",
            where("voice"),
        )
    tools = config.tools
    if "tools" in own:
        tools = _check_tools(where("tools"), tuple(own["tools"]))
    choice = own.get("tool_choice", config.tool_choice) or "auto"
    if "tool_choice" in own or "tools" in own:
        _check_tool_choice(where("tool_choice"), choice, tools)
    if "max_output_tokens" in own:
        _check_max_tokens(where("max_output_tokens"), own["max_output_tokens"])
    if "temperature" in own:
        check_range(where("temperature"), own["temperature"], 0.6, 1.2)
    metadata = own.get("metadata")
    check_metadata(where("metadata"), metadata)
    conversation = own.get("conversation", "auto")
    if conversation not in ("auto", "none"):
        raise invalid_value(where("conversation"), conversation, ("auto", "none"))
    return ResponseSettings(
        output_modalities=tuple(
            own.get("output_modalities", config.output_modalities or ("audio",))
        ),
        instructions=own.get("instructions", config.instructions or ""),
        voice=own.get("voice", config.voice or "alloy"),
        output_format=own.get("output_format", config.output_format or "pcm16"),
        tools=tuple(tools),
        tool_choice=choice,
        max_output_tokens=own.get("max_output_tokens", config.max_output_tokens or "inf"),
        conversation=conversation,
        metadata=metadata,
        temperature=own.get("temperature", temperature),
        prompt=own.get("prompt", config.prompt),
        reasoning=own.get("reasoning", config.reasoning),
        parallel_tool_calls=own.get("parallel_tool_calls", config.parallel_tool_calls),
    )
