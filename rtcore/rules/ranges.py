"""The value ranges of the protocol's numeric settings, both ends included.

One table for every role and dialect (docs/protocol/connection.md#envelope,
docs/protocol/ga.md#session, docs/protocol/ga.md#audio-format, docs/protocol/ga.md#turn-detection,
docs/protocol/ga.md#response-parameters): the server refuses a value outside its range with
``invalid_value``, and so does the client before sending it.
"""

from __future__ import annotations

__all__ = [
    "IDLE_TIMEOUT_MS",
    "MAX_OUTPUT_TOKENS",
    "METADATA_KEY_CHARS",
    "METADATA_PAIRS",
    "METADATA_VALUE_CHARS",
    "RETENTION_RATIO",
    "SPEED",
    "TEMPERATURE",
    "VAD_MS",
    "VAD_THRESHOLD",
]

VAD_THRESHOLD = (0.0, 1.0)
"""Server VAD ``threshold``."""
VAD_MS = (0, 10000)
"""Server VAD ``prefix_padding_ms`` and ``silence_duration_ms``."""
IDLE_TIMEOUT_MS = (5000, 30000)
"""Server VAD ``idle_timeout_ms``."""
SPEED = (0.25, 1.5)
"""``speed`` of the output voice."""
TEMPERATURE = (0.6, 1.2)
"""Beta's sampling ``temperature`` (GA has none)."""
MAX_OUTPUT_TOKENS = (1, 4096)
"""``max_output_tokens`` when it is a number (the other value is ``"inf"``)."""
RETENTION_RATIO = (0.0, 1.0)
"""``truncation.retention_ratio``."""
METADATA_PAIRS = 16
METADATA_KEY_CHARS = 64
METADATA_VALUE_CHARS = 512
