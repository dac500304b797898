"""The typed vocabulary of the Realtime protocol in both dialects, and its JSON codec.

One frozen class per client and server event (class name = wire ``type`` in
CamelCase; ``error`` is ``ErrorEvent``), one per nested object, and the codec
functions ``decode_server_event``, ``decode_client_event`` (both take
``dialect="ga"``, the default, or ``"beta"``) and ``encode_event``.

Each dialect has its namespace, holding its whole vocabulary under the wire's
plain names: ``rtcore.events.ga`` and ``rtcore.events.beta``. A class whose
wire shape is the same in both dialects is the same object in both
(``ga.ErrorEvent is beta.ErrorEvent``); where the shapes differ each
namespace has its own class under the same name (``ga.MessageItem`` writes
assistant parts ``output_text``, ``beta.MessageItem`` ``text``).

This package itself holds only what the two dialects share: the codec, the
base classes and type aliases, and the events and objects that are the same
in both (``InputAudioBufferAppend``, ``ErrorEvent``, ``FunctionCallItem``,
``Usage``, ...). It deliberately follows neither dialect for the rest: were
``rtcore.events.SessionUpdate`` one dialect's class, code written for the
other would build the wrong message and only the server would notice. A name
that differs between the dialects is therefore not here, and using it is an
``AttributeError`` that names it; pick the namespace:
``from rtcore.events import ga`` (or ``beta``), then ``ga.SessionUpdate``.
The client events that carry a session, an item or response parameters
(``SessionUpdate``, ``ConversationItemCreate``, ``ResponseCreate``,
``TranscriptionSessionUpdate``) also accept that object as a dict, written as
in JSON; it is converted through the event's own dialect's types when the
event is made, and a bad one raises ``DecodeError`` naming the path (see
``rtcore.events.ga``). See ``rtcore.events.codec`` for the decoding rules.
"""

from . import beta, ga
from ._base import (
    BUILTIN_VOICES,
    UNSET,
    AudioFormat,
    EventBase,
    ItemStatus,
    MaxTokens,
    Modality,
    ResponseStatus,
    Role,
    UnsetType,
)
from .client import (
    ClientEvent,
    ConversationItemDelete,
    ConversationItemRetrieve,
    ConversationItemTruncate,
    InputAudioBufferAppend,
    InputAudioBufferClear,
    InputAudioBufferCommit,
    OutputAudioBufferClear,
    ResponseCancel,
)
from .codec import (
    DEFAULT_DIALECT,
    MAX_NESTING_DEPTH,
    DecodeError,
    Dialect,
    Event,
    UnknownEvent,
    client_events,
    decode_client_event,
    decode_server_event,
    encode_event,
    server_events,
    unknown_fields,
)
from .objects import (
    AudioContent,
    CachedTokensDetails,
    Conversation,
    DetectedLanguage,
    ErrorDetails,
    FunctionCallItem,
    FunctionCallOutputItem,
    InputAudioContent,
    InputTextContent,
    InputTokenDetails,
    ItemReference,
    ItemReferenceContent,
    Logprob,
    OutputTokenDetails,
    Part,
    RateLimit,
    StatusDetails,
    StatusError,
    TextContent,
    Tracing,
    TracingConfig,
    TranscriptionError,
    TranscriptionTokenDetails,
    TranscriptionUsage,
    TranscriptionUsageDuration,
    TranscriptionUsageTokens,
    Usage,
)
from .server import (
    ConversationCreated,
    ConversationItemDeleted,
    ConversationItemInputAudioTranscriptionCompleted,
    ConversationItemInputAudioTranscriptionDelta,
    ConversationItemInputAudioTranscriptionFailed,
    ConversationItemInputAudioTranscriptionSegment,
    ConversationItemTruncated,
    ErrorEvent,
    InputAudioBufferCleared,
    InputAudioBufferCommitted,
    InputAudioBufferSpeechStarted,
    InputAudioBufferSpeechStopped,
    InputAudioBufferTimeoutTriggered,
    OutputAudioBufferCleared,
    OutputAudioBufferStarted,
    OutputAudioBufferStopped,
    RateLimitsUpdated,
    ResponseContentPartAdded,
    ResponseContentPartDone,
    ResponseFunctionCallArgumentsDelta,
    ResponseFunctionCallArgumentsDone,
    ServerEvent,
)

__all__ = [
    "beta",
    "ga",
    "AudioFormat",
    "BUILTIN_VOICES",
    "EventBase",
    "ItemStatus",
    "MaxTokens",
    "Modality",
    "ResponseStatus",
    "Role",
    "UNSET",
    "UnsetType",
    "DEFAULT_DIALECT",
    "DecodeError",
    "Dialect",
    "Event",
    "MAX_NESTING_DEPTH",
    "UnknownEvent",
    "client_events",
    "decode_client_event",
    "decode_server_event",
    "encode_event",
    "server_events",
    "unknown_fields",
    "ClientEvent",
    "ConversationItemDelete",
    "ConversationItemRetrieve",
    "ConversationItemTruncate",
    "InputAudioBufferAppend",
    "InputAudioBufferClear",
    "InputAudioBufferCommit",
    "OutputAudioBufferClear",
    "ResponseCancel",
    "AudioContent",
    "CachedTokensDetails",
    "Conversation",
    "DetectedLanguage",
    "ErrorDetails",
    "FunctionCallItem",
    "FunctionCallOutputItem",
    "InputAudioContent",
    "InputTextContent",
    "InputTokenDetails",
    "ItemReference",
    "ItemReferenceContent",
    "Logprob",
    "OutputTokenDetails",
    "Part",
    "RateLimit",
    "StatusDetails",
    "StatusError",
    "TextContent",
    "Tracing",
    "TracingConfig",
    "TranscriptionError",
    "TranscriptionTokenDetails",
    "TranscriptionUsage",
    "TranscriptionUsageDuration",
    "TranscriptionUsageTokens",
    "Usage",
    "ConversationCreated",
    "ConversationItemDeleted",
    "ConversationItemInputAudioTranscriptionCompleted",
    "ConversationItemInputAudioTranscriptionDelta",
    "ConversationItemInputAudioTranscriptionFailed",
    "ConversationItemInputAudioTranscriptionSegment",
    "ConversationItemTruncated",
    "ErrorEvent",
    "InputAudioBufferCleared",
    "InputAudioBufferCommitted",
    "InputAudioBufferSpeechStarted",
    "InputAudioBufferSpeechStopped",
    "InputAudioBufferTimeoutTriggered",
    "OutputAudioBufferCleared",
    "OutputAudioBufferStarted",
    "OutputAudioBufferStopped",
    "RateLimitsUpdated",
    "ResponseContentPartAdded",
    "ResponseContentPartDone",
    "ResponseFunctionCallArgumentsDelta",
    "ResponseFunctionCallArgumentsDone",
    "ServerEvent",
]
