"""Base classes and the type aliases both dialects share.

Every value in the vocabulary is a frozen ``msgspec.Struct``. Two rules from the
protocol shape the field types:

* A field that may be left out of a message defaults to ``UNSET`` and is left
  out again when encoded, so that "absent" and "explicitly ``null``" stay
  different (``"turn_detection": null`` switches server VAD off, a missing
  ``turn_detection`` changes nothing).
* Fields are never given concrete defaults: a default would be written on
  encode and break lossless round trips.

Unknown JSON fields are rejected by the fast decoder (``forbid_unknown_fields``)
so that the codec notices them; it then decides what to do with them (see
``rtcore.events.codec``).
"""

from __future__ import annotations

from typing import ClassVar, Literal, TypeAlias

import msgspec
from msgspec import UNSET, UnsetType

__all__ = [
    "UNSET",
    "AudioFormat",
    "BUILTIN_VOICES",
    "EventBase",
    "ItemStatus",
    "MaxTokens",
    "Modality",
    "Object",
    "ResponseStatus",
    "Role",
    "UnsetType",
]


class Object(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, repr_omit_defaults=True
):
    """A nested object of the protocol (session, item, content part, ...)."""


class EventBase(
    msgspec.Struct,
    frozen=True,
    kw_only=True,
    forbid_unknown_fields=True,
    tag_field="type",
    dict=True,
    repr_omit_defaults=True,
):
    """Common base of every client and server event.

    ``dict=True`` gives each event room for the unknown fields the codec keeps
    aside when a peer sends fields this protocol version does not define; they
    are not part of the typed value (equality ignores them) but survive
    re-encoding. The class attribute below is the default seen when there are
    none.
    """

    type: ClassVar[str]
    """The wire ``type`` of the event (also the msgspec tag)."""

    _rtcore_unknown = None


Modality: TypeAlias = Literal["text", "audio"]
"""An output modality (docs/protocol/beta.md#session ``modalities``)."""

BUILTIN_VOICES: tuple[str, ...] = (
    "alloy",
    "ash",
    "ballad",
    "coral",
    "echo",
    "sage",
    "shimmer",
    "verse",
    "marin",
    "cedar",
    # Beta-era voices no longer listed by GA, still accepted as strings.
    "fable",
    "onyx",
    "nova",
)

AudioFormat: TypeAlias = Literal["pcm16", "g711_ulaw", "g711_alaw"]
"""The three audio encodings by their short names: pcm16 is 24 kHz mono s16le; the
G.711 laws are 8 kHz. Beta writes formats so on the wire; GA writes them as objects
(``ga.AudioFormatSpec``), and the engine (``rtcore.audio``, the snapshots) names them
so in both dialects."""

ItemStatus: TypeAlias = Literal["completed", "incomplete", "in_progress"]
Role: TypeAlias = Literal["user", "assistant", "system"]
ResponseStatus: TypeAlias = Literal["in_progress", "completed", "cancelled", "incomplete", "failed"]
MaxTokens: TypeAlias = int | Literal["inf"]
"""An output-token cap: an integer (1-4096) or the string ``"inf"``."""
