"""How a broken rule is reported: ``Invalid``, the content of an ``error`` event.

Every rule in ``rtcore.rules`` raises ``Invalid(code, message, param)`` with
the code and the dotted wire path the service uses for it. The server turns
it into one ``error`` event naming the offending client event; the client
turns it into a ``LocalProtocolError`` with the same ``code`` and ``param``,
so that both roles refuse the same request in the same words.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["Invalid", "check_range", "invalid_value", "missing"]


class Invalid(Exception):
    """A client request that breaks a rule: the content of an ``error`` event."""

    def __init__(self, code: str | None, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param


def invalid_value(
    param: str, value: object, allowed: Iterable[object] | None = None, why: str = ""
) -> Invalid:
    message = f"Invalid value: {value!r}."
    if allowed is not None:
        message += " Supported values are: " + ", ".join(repr(a) for a in allowed) + "."
    if why:
        message += " " + why
    return Invalid("invalid_value", message, param)


def check_range(param: str, value: float, bounds: tuple[float, float]) -> None:
    """``value`` lies within ``bounds`` (both ends included; see ``rtcore.rules.ranges``)."""
    low, high = bounds
    if not low <= value <= high:
        raise Invalid(
            "invalid_value",
            f"Invalid '{param}': expected a value between {low:g} and {high:g}, but got {value:g} instead.",
            param,
        )


def missing(param: str) -> Invalid:
    return Invalid("missing_required_parameter", f"Missing required parameter: '{param}'.", param)
