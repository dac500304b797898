"""Reading a beta client's requests into the neutral vocabulary, with beta's rules.

The validation half of the beta dialect's edge, used by both roles: the server reads a request with
it before applying it, the client before sending it (so both refuse the same request with the same
code). Beta's wire (docs/protocol/beta.md, docs/protocol/flows.md): the flat ``session.update``
session (``modalities`` of ``["text"]`` or ``["audio", "text"]``, ``input_audio_format``,
``turn_detection``, ``temperature`` 0.6-1.2, ...), the flat ``response.create`` parameters,
``transcription_session.update``, and the item rules of ``rtcore.rules.items``.
"""

from __future__ import annotations

from typing import Any

from .. import events as ev
from ..events import beta, ga
from ..state.session import (
    modalities_from_beta,
    tool_choice_from_beta,
    tool_from_beta,
    transcription_from_beta,
)
from . import ranges, turn_detection
from .reading import NOT_SET_WHEN_NULL, Changes, Extras, Paths, given_fields
from .refusal import Invalid, check_range, missing

__all__ = [
    "PATHS",
    "RESPONSE_PATHS",
    "response_overrides",
    "session_changes",
    "transcription_session_config",
]

_SESSION_NAMES = {
    "modalities": "output_modalities",
    "input_audio_format": "input_format",
    "output_audio_format": "output_format",
    "input_audio_transcription": "transcription",
    "input_audio_noise_reduction": "noise_reduction",
    "max_response_output_tokens": "max_output_tokens",
}
PATHS: Paths = {neutral: f"session.{wire}" for wire, neutral in _SESSION_NAMES.items()}
RESPONSE_PATHS: Paths = {
    "output_modalities": "response.modalities",
    "output_format": "response.output_audio_format",
    "max_output_tokens": "response.max_response_output_tokens",
}


def _check_modalities(param: str, modalities: tuple[str, ...]) -> None:
    if sorted(modalities) not in (["text"], ["audio", "text"]):
        raise Invalid(
            "invalid_value",
            f"Invalid modalities: {list(modalities)!r}. Supported combinations are: ['text'] and ['audio', 'text'].",
            param,
        )


def _tools(param: str, tools: tuple[beta.Tool, ...]) -> tuple[ga.Tool, ...]:
    for i, tool in enumerate(tools):
        if not tool.name:
            raise missing(f"{param}[{i}].name")
    return tuple(tool_from_beta(t) for t in tools)


def _tool_choice(param: str, choice: beta.ToolChoice) -> ga.ToolChoice:
    if isinstance(choice, beta.ToolChoiceFunction) and choice.function_name is None:
        raise missing(f"{param}.name")
    converted = tool_choice_from_beta(choice)
    assert converted is not None
    return converted


def _common(fields: dict[str, Any], prefix: str) -> tuple[Changes, float | None]:
    """The neutral changes of beta fields shared by sessions and responses, and the temperature."""
    out: Changes = {}
    temperature: float | None = None
    for wire, value in fields.items():
        name = _SESSION_NAMES.get(wire, wire)
        if value is None and name in NOT_SET_WHEN_NULL | {"temperature", "conversation", "input"}:
            continue
        where = f"{prefix}.{wire}"
        if wire == "modalities":
            _check_modalities(where, value)
            value = modalities_from_beta(value)
        elif wire == "turn_detection" and value is not None:
            value = turn_detection.from_beta(where, value)
        elif wire == "input_audio_transcription":
            value = transcription_from_beta(value)
        elif wire == "input_audio_noise_reduction" and value is not None:
            value = ga.NoiseReduction(type=value.type)
        elif wire == "tools":
            value = _tools(where, value)
        elif wire == "tool_choice":
            value = _tool_choice(where, value)
        elif wire == "temperature":
            check_range(where, value, ranges.TEMPERATURE)
            temperature = value
            continue
        out[name] = value
    return out, temperature


def session_changes(update: beta.SessionConfig) -> tuple[Changes, Paths, Extras]:
    """A ``session.update``'s session as neutral changes, their wire paths, and beta's extras."""
    changes, temperature = _common(given_fields(update), "session")
    extras: Extras = {} if temperature is None else {"temperature": temperature}
    return changes, PATHS, extras


def transcription_session_config(session: beta.TranscriptionSessionConfig) -> beta.SessionConfig:
    """A ``transcription_session.update``'s session as the realtime session members it sets."""
    if not isinstance(session.modalities, ev.UnsetType) and tuple(session.modalities) != ("text",):
        raise Invalid(
            "invalid_value", "A transcription session produces text only.", "session.modalities"
        )
    return beta.SessionConfig(
        input_audio_format=session.input_audio_format,
        input_audio_transcription=session.input_audio_transcription,
        turn_detection=session.turn_detection,
        input_audio_noise_reduction=session.input_audio_noise_reduction,
        include=session.include,
    )


def response_overrides(params: beta.ResponseParams | None | ev.UnsetType) -> tuple[Changes, Paths]:
    """``response.create.response`` as neutral overrides and their wire paths."""
    if params is None or isinstance(params, ev.UnsetType):
        return {}, RESPONSE_PATHS
    given = given_fields(params)
    # max_output_tokens is the Oct 2024 draft's name for the same cap.
    cap = given.pop("max_output_tokens", None)
    paths = RESPONSE_PATHS
    if cap is not None and "max_response_output_tokens" not in given:
        given["max_response_output_tokens"] = cap
        paths = {**RESPONSE_PATHS, "max_output_tokens": "response.max_output_tokens"}
    inputs = given.pop("input", None)
    overrides, temperature = _common(given, "response")
    if temperature is not None:
        overrides["temperature"] = temperature
    if inputs is not None:
        overrides["input"] = inputs
    return overrides, paths
