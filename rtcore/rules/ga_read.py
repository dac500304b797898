"""Reading a GA client's requests into the neutral vocabulary, with GA's rules.

The validation half of the GA dialect's edge, used by both roles: the server reads a request with it
before applying it, the client before sending it (so both refuse the same request with the same
code). GA's wire (docs/protocol/ga.md#objects, docs/protocol/ga.md#client-events): the nested
session (``session.type`` matching the session's, ``audio.input`` / ``audio.output`` merged field by
field, format objects), the ``response.create`` parameters (``output_modalities``, ``audio.output``,
``max_output_tokens``, ``metadata``, ``input``), and the item rules of ``rtcore.rules.items``.
"""

from __future__ import annotations

from .. import events as ev
from ..events import ga
from ..state.session import SessionState, format_from_ga
from .reading import NOT_SET_WHEN_NULL, Changes, Extras, Paths, given_fields
from .refusal import Invalid

__all__ = ["PATHS", "RESPONSE_PATHS", "response_overrides", "session_changes"]

PATHS: Paths = {
    "input_format": "session.audio.input.format",
    "transcription": "session.audio.input.transcription",
    "turn_detection": "session.audio.input.turn_detection",
    "noise_reduction": "session.audio.input.noise_reduction",
    "output_format": "session.audio.output.format",
    "voice": "session.audio.output.voice",
    "speed": "session.audio.output.speed",
}
RESPONSE_PATHS: Paths = {
    "output_format": "response.audio.output.format",
    "voice": "response.audio.output.voice",
}


def _keep(changes: Changes, name: str, value: object) -> None:
    """Record a change; ``null`` means "not set" for fields without an off state."""
    if value is None and name in NOT_SET_WHEN_NULL:
        return
    if name in ("input_format", "output_format"):
        assert value is None or isinstance(value, ga.AudioFormatSpec)
        value = format_from_ga(value)
    changes[name] = value


def _audio_changes(audio: ga.AudioConfig | ga.TranscriptionAudio | None, changes: Changes) -> None:
    given = given_fields(audio)
    for name, value in given_fields(given.get("input")).items():
        _keep(changes, "input_format" if name == "format" else name, value)
    for name, value in given_fields(given.get("output")).items():
        _keep(changes, "output_format" if name == "format" else name, value)


def session_changes(
    update: ga.SessionConfig, current: SessionState
) -> tuple[Changes, Paths, Extras]:
    """A ``session.update``'s session as neutral changes and their wire paths (no extras in GA)."""
    if update.type != current.kind:
        # No source says whether a session may change type; we say no
        # (docs/protocol/choices.md#session-type-change).
        raise Invalid(
            "invalid_value",
            f"Invalid value: '{update.type}'. This is a {current.kind} session; its type"
            " cannot be changed (connect with ?intent=transcription for a transcription session).",
            "session.type",
        )
    changes: Changes = {}
    for name, value in given_fields(update).items():
        if name == "audio":
            _audio_changes(value, changes)
        else:
            _keep(changes, name, value)
    return changes, PATHS, {}


def response_overrides(params: ga.ResponseParams | None | ev.UnsetType) -> tuple[Changes, Paths]:
    """``response.create.response`` as neutral overrides and their wire paths."""
    overrides: Changes = {}
    for name, value in given_fields(params).items():
        if name == "audio":
            for member, setting in given_fields(given_fields(value).get("output")).items():
                _keep(overrides, "output_format" if member == "format" else member, setting)
        elif value is not None:
            overrides[name] = value
    return overrides, RESPONSE_PATHS
