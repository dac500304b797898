"""Which content parts a client's message item may hold, by role and dialect.

docs/protocol/flows.md#item-create-errors and docs/protocol/ga.md#items: users send ``input_text``
and ``input_audio`` (GA also ``input_image``), system messages ``input_text``, and assistant
messages text only - ``text`` in beta, ``output_text`` in GA, never audio (a client cannot put words
in the model's voice). Audio in an ``input_audio`` part is a whole number of samples of the
session's input format (``rtcore.rules.audio``).
"""

from __future__ import annotations

from collections.abc import Mapping

from .. import events as ev
from ..events import beta, ga
from .audio import check_whole_samples
from .refusal import Invalid, invalid_value, missing

__all__ = ["PARTS_BY_ROLE", "check_parts"]

PARTS_BY_ROLE: Mapping[ev.Dialect, Mapping[str, tuple[str, ...]]] = {
    "beta": {
        "user": ("input_text", "input_audio"),
        "system": ("input_text",),
        "assistant": ("text",),
    },
    "ga": {
        "user": ("input_text", "input_audio", "input_image"),
        "system": ("input_text",),
        "assistant": ("output_text",),
    },
}
"""The part types a client's message may hold: dialect -> role -> types."""


def check_parts(
    item: beta.MessageItem | ga.MessageItem,
    param: str,
    input_format: ev.AudioFormat,
    dialect: ev.Dialect,
) -> None:
    """The content rules of a client's message item (raises ``Invalid``)."""
    if isinstance(item.content, ev.UnsetType):
        raise missing(f"{param}.content")
    allowed = PARTS_BY_ROLE[dialect][item.role]
    for i, part in enumerate(item.content):
        where = f"{param}.content[{i}]"
        if part.type not in allowed:
            if item.role == "assistant" and part.type in ("audio", "output_audio"):
                article = "an" if dialect == "ga" else "a"
                raise Invalid(
                    "invalid_value",
                    f"Assistant messages cannot carry audio; use {article} '{allowed[0]}' part.",
                    f"{where}.type",
                )
            raise invalid_value(
                f"{where}.type",
                part.type,
                allowed,
                f"{'An' if item.role[0] in 'aeiou' else 'A'} {item.role} message accepts these"
                " content types.",
            )
        if isinstance(part, ev.InputAudioContent):
            if isinstance(part.audio, ev.UnsetType):
                raise missing(f"{where}.audio")
            check_whole_samples(len(part.audio), input_format, f"{where}.audio")
