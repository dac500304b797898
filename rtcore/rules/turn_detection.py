"""Turn detection: the beta and GA shapes of one setting, and its defaults and ranges.

* Beta writes turn detection as one object whose ``type`` says which VAD it
  is; GA has one class per type. Read from beta, the members of the other
  VAD type are ``unknown_parameter`` (docs/protocol/ga.md#turn-detection); written to beta, the GA
  object's members are copied over.
* A client's partial turn detection is completed as servers echo it
  (``rtcore.rules.defaults``: server VAD 0.5 / 300 ms / 200 ms, semantic
  VAD ``eagerness: auto``, responses and interruptions on) and checked
  against ``rtcore.rules.ranges``.
"""

from __future__ import annotations

from .. import events as ev
from ..events import beta, ga
from ..state.session import turn_detection_from_beta
from . import ranges
from .defaults import DEFAULT_EAGERNESS, DEFAULT_VAD
from .refusal import Invalid, check_range

__all__ = ["TurnDetection", "filled", "from_beta", "to_beta"]

TurnDetection = ga.ServerVad | ga.SemanticVad

_SERVER_VAD_ONLY = ("threshold", "prefix_padding_ms", "silence_duration_ms", "idle_timeout_ms")


def _set(value: object) -> bool:
    return value is not None and not isinstance(value, ev.UnsetType)


def from_beta(param: str, given: beta.TurnDetection) -> TurnDetection:
    """A beta client's turn detection as its GA object (``Invalid`` for the other type's fields)."""
    if given.type == "semantic_vad":
        for name in _SERVER_VAD_ONLY:
            if _set(getattr(given, name)):
                raise Invalid(
                    "unknown_parameter",
                    f"Unknown parameter: '{param}.{name}' (semantic_vad has no {name}).",
                    f"{param}.{name}",
                )
    elif not isinstance(given.eagerness, ev.UnsetType):
        raise Invalid(
            "unknown_parameter", f"Unknown parameter: '{param}.eagerness'.", f"{param}.eagerness"
        )
    converted = turn_detection_from_beta(given)
    assert converted is not None
    return converted


def to_beta(value: TurnDetection | None) -> beta.TurnDetection | None:
    """Turn detection as a beta server writes it."""
    if value is None:
        return None
    if isinstance(value, ga.SemanticVad):
        return beta.TurnDetection(
            type="semantic_vad",
            eagerness=value.eagerness,  # type: ignore[arg-type]
            create_response=value.create_response,  # type: ignore[arg-type]
            interrupt_response=value.interrupt_response,  # type: ignore[arg-type]
        )
    return beta.TurnDetection(
        type="server_vad",
        threshold=value.threshold,  # type: ignore[arg-type]
        prefix_padding_ms=value.prefix_padding_ms,  # type: ignore[arg-type]
        silence_duration_ms=value.silence_duration_ms,  # type: ignore[arg-type]
        create_response=value.create_response,  # type: ignore[arg-type]
        interrupt_response=value.interrupt_response,  # type: ignore[arg-type]
        idle_timeout_ms=ev.UNSET if value.idle_timeout_ms is None else value.idle_timeout_ms,
    )


def filled(param: str, given: TurnDetection) -> TurnDetection:
    """Turn detection with every field filled in as servers echo it, and its ranges checked."""
    create = given.create_response if _set(given.create_response) else True
    interrupt = given.interrupt_response if _set(given.interrupt_response) else True
    if isinstance(given, ga.SemanticVad):
        return ga.SemanticVad(
            eagerness=given.eagerness if _set(given.eagerness) else DEFAULT_EAGERNESS,
            create_response=create,
            interrupt_response=interrupt,
        )
    merged = ga.ServerVad(
        threshold=given.threshold if _set(given.threshold) else DEFAULT_VAD.threshold,
        prefix_padding_ms=(
            given.prefix_padding_ms
            if _set(given.prefix_padding_ms)
            else DEFAULT_VAD.prefix_padding_ms
        ),
        silence_duration_ms=(
            given.silence_duration_ms
            if _set(given.silence_duration_ms)
            else DEFAULT_VAD.silence_duration_ms
        ),
        idle_timeout_ms=given.idle_timeout_ms if _set(given.idle_timeout_ms) else None,
        create_response=create,
        interrupt_response=interrupt,
    )
    assert isinstance(merged.threshold, float | int)
    check_range(f"{param}.threshold", merged.threshold, ranges.VAD_THRESHOLD)
    assert isinstance(merged.prefix_padding_ms, int) and isinstance(merged.silence_duration_ms, int)
    check_range(f"{param}.prefix_padding_ms", merged.prefix_padding_ms, ranges.VAD_MS)
    check_range(f"{param}.silence_duration_ms", merged.silence_duration_ms, ranges.VAD_MS)
    if isinstance(merged.idle_timeout_ms, int):
        check_range(f"{param}.idle_timeout_ms", merged.idle_timeout_ms, ranges.IDLE_TIMEOUT_MS)
    return merged
