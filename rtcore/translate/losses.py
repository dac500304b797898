"""What a translation between the dialects could not carry: ``Loss``.

Every step of ``rtcore.translate`` that drops, invents or collapses a value
reports one ``Loss`` naming its kind, the event it happened in and the wire
path of the value. The kinds are a closed list, each explained on
docs/protocol/relay.md#lossy-steps, so that a relay can log the first loss of
each kind on a connection and count the rest without parsing messages.
"""

from __future__ import annotations

from typing import Final, Literal, TypeAlias

import msgspec

__all__ = ["LOSS_KINDS", "Loss", "LossKind"]

LossKind: TypeAlias = Literal[
    "temperature_dropped",
    "temperature_echoed",
    "modalities_collapsed",
    "client_secret_dropped",
    "custom_voice_dropped",
    "ga_only_field_dropped",
    "turn_detection_field_dropped",
    "mcp_dropped",
    "image_dropped",
    "obfuscation_dropped",
    "item_done_dropped",
    "item_done_synthesised",
    "transcription_usage_invented",
    "event_dropped",
]

LOSS_KINDS: Final[dict[LossKind, str]] = {
    "temperature_dropped": "docs/protocol/relay.md#loss-temperature",
    "temperature_echoed": "docs/protocol/relay.md#loss-temperature",
    "modalities_collapsed": "docs/protocol/relay.md#loss-modalities",
    "client_secret_dropped": "docs/protocol/relay.md#loss-ga-only",
    "custom_voice_dropped": "docs/protocol/relay.md#loss-ga-only",
    "ga_only_field_dropped": "docs/protocol/relay.md#loss-ga-only",
    "turn_detection_field_dropped": "docs/protocol/relay.md#loss-ga-only",
    "mcp_dropped": "docs/protocol/relay.md#loss-ga-only",
    "image_dropped": "docs/protocol/relay.md#loss-ga-only",
    "obfuscation_dropped": "docs/protocol/relay.md#loss-obfuscation",
    "item_done_dropped": "docs/protocol/relay.md#loss-item-done",
    "item_done_synthesised": "docs/protocol/relay.md#loss-item-done",
    "transcription_usage_invented": "docs/protocol/relay.md#loss-transcription-usage",
    "event_dropped": "docs/protocol/relay.md#loss-ga-only",
}
"""Every kind of loss with the page that explains it."""


class Loss(msgspec.Struct, frozen=True, kw_only=True):
    """One value a translation dropped, invented or collapsed.

    ``event_type`` is the wire type of the event being translated (in its
    source dialect), ``path`` the dotted wire path of the value in it
    (``session.temperature``). ``first`` is true for the first loss of its
    kind reported by the ``Translator`` that made it: the one a relay logs.
    """

    kind: LossKind
    event_type: str
    path: str
    first: bool = False

    @property
    def explained_at(self) -> str:
        """The docs page and anchor that explain this kind of loss."""
        return LOSS_KINDS[self.kind]
