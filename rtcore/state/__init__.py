"""Immutable snapshots of a session and the pure transitions between them.

``apply(snapshot, server_event) -> snapshot`` is the whole machine (see
``rtcore.state.transitions``); ``Snapshot`` and its records are in
``rtcore.state.model``. Both roles share them: a server's own conversation and
the conversation a client rebuilds from the server's events are equal.
"""

from .chunks import ByteChunks, TextChunks
from .model import (
    Anomaly,
    ErrorRecord,
    InputAudioBufferState,
    ItemState,
    PartState,
    ResponseState,
    Snapshot,
)
from .transitions import apply, initial_snapshot, record_protocol_error
from .view import item_to_dict, snapshot_to_dict, snapshot_to_text

__all__ = [
    "Anomaly",
    "ByteChunks",
    "ErrorRecord",
    "InputAudioBufferState",
    "ItemState",
    "PartState",
    "ResponseState",
    "Snapshot",
    "TextChunks",
    "apply",
    "initial_snapshot",
    "item_to_dict",
    "record_protocol_error",
    "snapshot_to_dict",
    "snapshot_to_text",
]
