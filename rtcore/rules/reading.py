"""Reading a client's request object: which members it set, and what ``null`` means.

Shared by the readers of both dialects (``rtcore.rules.beta_read``,
``rtcore.rules.ga_read``).
"""

from __future__ import annotations

from typing import Any

import msgspec

from .. import events as ev

__all__ = ["NOT_SET_WHEN_NULL", "Changes", "Extras", "Paths", "given_fields"]

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


def given_fields(struct: msgspec.Struct | None | ev.UnsetType) -> dict[str, Any]:
    """The members a client set in a request object (``{}`` for an absent or null object)."""
    if struct is None or isinstance(struct, ev.UnsetType):
        return {}
    return {
        name: getattr(struct, name)
        for name in struct.__struct_fields__
        if not isinstance(getattr(struct, name), ev.UnsetType)
    }


Changes = dict[str, object]
"""Neutral changes: ``SessionState`` field names (and, for responses, ``conversation``,
``metadata``, ``input`` and beta's ``temperature``) mapped to values in its vocabulary."""
Paths = dict[str, str]
"""The dotted wire path of each neutral name, for the errors (``session.voice``, ...)."""
Extras = dict[str, float]
"""Settings only one dialect has (beta's ``temperature``)."""
