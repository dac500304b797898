"""The effective settings of a server's response: ``response_settings``.

The rules of session settings and their merge live in ``rtcore.rules.session_update`` (both roles
apply them); the server applies an update with ``merge_config`` and builds each response's effective
settings here, its ``response.create`` overrides over the session
(docs/protocol/ga.md#response-parameters), after ``check_response`` has checked them. The names
below ``Invalid`` are re-exported for the server's parts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..rules.defaults import DEFAULT_FORMAT, DEFAULT_MAX_OUTPUT_TOKENS, DEFAULT_VOICE
from ..rules.reading import NOT_SET_WHEN_NULL
from ..rules.refusal import Invalid, check_range, invalid_value, missing
from ..rules.session_update import check_metadata, check_response, merge_config
from ..state.session import SessionState
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


def response_settings(
    config: SessionState,
    overrides: Mapping[str, Any],
    paths: Mapping[str, str],
    *,
    audio_produced: bool,
    temperature: float | None = None,
) -> ResponseSettings:
    """The effective settings of a response: its ``overrides`` over the session
    (docs/protocol/ga.md#response-parameters).

    ``overrides`` holds neutral field names as ``merge_config``'s changes do,
    plus ``conversation``, ``metadata`` and ``temperature`` (beta; the beta
    reader checked its range); ``temperature`` is the session's.
    """

    own = overrides
    checked = check_response(config, own, paths, audio_produced=audio_produced)
    return ResponseSettings(
        output_modalities=tuple(
            own.get("output_modalities", config.output_modalities or ("audio",))
        ),
        instructions=own.get("instructions", config.instructions or ""),
        voice=own.get("voice", config.voice or DEFAULT_VOICE),
        output_format=own.get("output_format", config.output_format or DEFAULT_FORMAT),
        tools=checked.tools,
        tool_choice=checked.tool_choice,
        max_output_tokens=own.get(
            "max_output_tokens", config.max_output_tokens or DEFAULT_MAX_OUTPUT_TOKENS
        ),
        conversation=checked.conversation,
        metadata=checked.metadata,
        temperature=own.get("temperature", temperature),
        prompt=own.get("prompt", config.prompt),
        reasoning=own.get("reasoning", config.reasoning),
        parallel_tool_calls=own.get("parallel_tool_calls", config.parallel_tool_calls),
    )
