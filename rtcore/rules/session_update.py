"""The rules of a session's settings, and how an update merges into them.

A ``session.update`` reaches this module as *changes*: neutral field names of
``rtcore.state.session.SessionState`` mapped to values in its vocabulary, already
read out of the dialect's wire shape (``rtcore.rules.beta_read`` /
``ga_read``), together with the dotted wire path of each field so that
errors name what the client wrote (``session.voice`` in beta,
``session.audio.output.voice`` in GA). Here the values are checked against
the protocol's rules and merged, all or nothing. Both roles call it: the
server to apply an update, the client to refuse one before sending it.

* ranges (``rtcore.rules.ranges``): VAD ``threshold``, ``prefix_padding_ms`` /
  ``silence_duration_ms``, ``idle_timeout_ms``, ``speed``,
  ``max_output_tokens`` (or ``"inf"``), ``retention_ratio``, metadata sizes;
* locks: the model once set (``rtcore.rules.model``); the voice not once the model has spoken
  (``rtcore.rules.voice``); tracing not once enabled;
* combinations: exactly one output modality; tool names unique and present;
  streaming transcription models (``gpt-realtime-whisper``,
  ``gpt-live-transcribe``) only with turn detection off; the transcription
  members only some models take (``languages``, ``keywords``, ``delay``,
  ``prompt``: ``unsupported_parameter``);
  an MCP tool names its server (``server_url``, ``connector_id`` - one of
  the known connectors - or ``tunnel_id`` - ``tunnel_`` and 32 of a-z0-9);
  a named tool choice names a configured tool;
* defaults filled the way servers echo them (``rtcore.rules.defaults``).

``check_response`` applies the same rules to ``response.create`` overrides.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from msgspec.structs import replace

from .. import events as ev
from ..events import ga
from ..state.session import SessionState
from . import ranges, turn_detection
from .catalog import (
    MCP_CONNECTORS,
    NO_PROMPT_TRANSCRIPTION_MODELS,
    STREAMING_TRANSCRIPTION_MODELS,
    TRANSCRIPTION_MEMBER_MODELS,
    TRANSCRIPTION_MODELS,
)
from .defaults import DEFAULT_TRANSCRIPTION_MODEL
from .model import model_change
from .refusal import Invalid, check_range, invalid_value, missing
from .voice import check_voice

__all__ = ["ResponseChecked", "check_metadata", "check_response", "merge_config"]

_INCLUDE = ("item.input_audio_transcription.logprobs",)
_TUNNEL_ID = re.compile(r"tunnel_[a-z0-9]{32}")


def _set(value: Any) -> bool:
    return value is not None and not isinstance(value, ev.UnsetType)


def _unsupported(param: str, model: str) -> Invalid:
    return Invalid(
        "unsupported_parameter",
        f"Unsupported parameter: '{param}' is not supported with transcription model '{model}'.",
        param,
    )


def _transcription(param: str, given: ga.Transcription) -> ga.Transcription:
    model = given.model if _set(given.model) else DEFAULT_TRANSCRIPTION_MODEL
    if model not in TRANSCRIPTION_MODELS:
        raise invalid_value(f"{param}.model", model, TRANSCRIPTION_MODELS)
    # Members only some models take (docs/protocol/ga.md#transcription); an empty prompt is the
    # echo's "none".
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
    # Omitting strength keeps the current one (docs/protocol/ga.md#noise-reduction).
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
        check_range(param, value, ranges.MAX_OUTPUT_TOKENS)


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
        check_range(f"{param}.retention_ratio", value.retention_ratio, ranges.RETENTION_RATIO)
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
    model_open: bool = False,
) -> SessionState:
    """The session after an update: only the fields in ``changes`` change; all or nothing.

    ``paths`` gives the wire path of each field for error messages; ``model_open`` whether the
    session's model may still be set (``rtcore.rules.model``).
    """

    def where(name: str) -> str:
        return paths.get(name, f"session.{name}")

    out = dict(changes)
    if "model" in out:
        model_change(current.model, out["model"], open_=model_open, param=where("model"))
    if "voice" in out:
        check_voice(
            current.voice, out["voice"], audio_produced=audio_produced, param=where("voice")
        )
    if "output_modalities" in out:
        _check_modalities(where("output_modalities"), out["output_modalities"])
    if out.get("turn_detection") is not None:
        out["turn_detection"] = turn_detection.filled(
            where("turn_detection"), out["turn_detection"]
        )
    if out.get("transcription") is not None:
        out["transcription"] = _transcription(where("transcription"), out["transcription"])
    if out.get("noise_reduction") is not None:
        out["noise_reduction"] = _noise(current.noise_reduction, out["noise_reduction"])
    if "tools" in out:
        out["tools"] = _check_tools(where("tools"), tuple(out["tools"]))
    if "max_output_tokens" in out:
        _check_max_tokens(where("max_output_tokens"), out["max_output_tokens"])
    if "speed" in out:
        check_range(where("speed"), out["speed"], ranges.SPEED)
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
    merged: SessionState, changes: Mapping[str, Any], where: Callable[[str], str]
) -> None:
    """Streaming transcription models reject turn detection (docs/protocol/ga.md#turn-detection,
    docs/protocol/ga.md#transcription, docs/protocol/flows.md#transcription-session)."""
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
    if len(metadata) > ranges.METADATA_PAIRS:
        raise Invalid(
            "invalid_value",
            f"Invalid '{param}': at most {ranges.METADATA_PAIRS} pairs, got {len(metadata)}.",
            param,
        )
    for key, value in metadata.items():
        if len(key) > ranges.METADATA_KEY_CHARS:
            raise Invalid(
                "invalid_value",
                f"Invalid '{param}': key {key[:20]!r}… is longer than {ranges.METADATA_KEY_CHARS} characters.",
                param,
            )
        if len(value) > ranges.METADATA_VALUE_CHARS:
            raise Invalid(
                "invalid_value",
                f"Invalid '{param}.{key}': value is longer than {ranges.METADATA_VALUE_CHARS} characters.",
                f"{param}.{key}",
            )


class ResponseChecked(NamedTuple):
    """What ``check_response`` settled: the response's tools, tool choice, conversation, metadata."""

    tools: tuple[ga.Tool, ...]
    tool_choice: ga.ToolChoice
    conversation: str
    metadata: dict[str, str] | None


def check_response(
    config: SessionState,
    overrides: Mapping[str, Any],
    paths: Mapping[str, str],
    *,
    audio_produced: bool,
) -> ResponseChecked:
    """The rules of ``response.create`` overrides over the session ``config``
    (docs/protocol/ga.md#response-parameters).

    ``overrides`` holds neutral field names as ``merge_config``'s changes do,
    plus ``conversation``, ``metadata`` and beta's ``temperature`` (whose
    range the beta reader checks).
    """

    def where(name: str) -> str:
        return paths.get(name, f"response.{name}")

    if "output_modalities" in overrides:
        _check_modalities(where("output_modalities"), overrides["output_modalities"])
    if "voice" in overrides:
        check_voice(
            config.voice, overrides["voice"], audio_produced=audio_produced, param=where("voice")
        )
    tools = config.tools
    if "tools" in overrides:
        tools = _check_tools(where("tools"), tuple(overrides["tools"]))
    choice = overrides.get("tool_choice", config.tool_choice) or "auto"
    if "tool_choice" in overrides or "tools" in overrides:
        _check_tool_choice(where("tool_choice"), choice, tools)
    if "max_output_tokens" in overrides:
        _check_max_tokens(where("max_output_tokens"), overrides["max_output_tokens"])
    metadata = overrides.get("metadata")
    check_metadata(where("metadata"), metadata)
    conversation = overrides.get("conversation", "auto")
    if conversation not in ("auto", "none"):
        raise invalid_value(where("conversation"), conversation, ("auto", "none"))
    return ResponseChecked(tuple(tools), choice, conversation, metadata)
