"""One realistic example message per GA event type, and variants, every optional field set somewhere.

Values follow (docs/protocol/connection.md#first-events, docs/protocol/connection.md#envelope,
docs/protocol/ga.md#objects, docs/protocol/ga.md#client-events, docs/protocol/ga.md#server-events)
and the GA traffic it quotes. ``GA_SERVER_EXAMPLES`` / ``GA_CLIENT_EXAMPLES`` hold one example per
wire type (the 46 server and 11 client events of the GA SDK unions); ``GA_VARIANTS`` holds further
messages for the shapes one example per type cannot show (the default session, a transcription
session, ``tracing: "auto"``, LiveKit's ``null`` fields, each MCP error, the beta streaming names a
GA server has been seen sending, ...). The tests check that the examples cover every event class
and, together, set every field of every object the GA vocabulary reaches.
"""

from __future__ import annotations

import base64
import copy
import json
from typing import Any, Literal

PCM = base64.b64encode(bytes(range(256)) * 2).decode()  # 512 bytes = 256 samples
PNG = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
    "+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)

# -- sessions (docs/protocol/connection.md#first-events, docs/protocol/ga.md#session,
# docs/protocol/ga.md#transcription-session) ---

DEFAULT_SESSION: dict[str, Any] = {
    # The real default session of docs/protocol/connection.md#first-events (WebSocket, model
    # gpt-realtime, Dec 2025), in the server's key order, every nullable field present as null.
    "type": "realtime",
    "object": "realtime.session",
    "id": "sess_CsOw3N0SQJvA1bW8Zt7aX",
    "model": "gpt-realtime",
    "output_modalities": ["audio"],
    "instructions": "Your knowledge cutoff is 2023-10. You are a helpful, witty, and friendly AI.",
    "tools": [],
    "tool_choice": "auto",
    "max_output_tokens": "inf",
    "tracing": None,
    "truncation": "auto",
    "prompt": None,
    "expires_at": 1767233035,
    "audio": {
        "input": {
            "format": {"type": "audio/pcm", "rate": 24000},
            "transcription": None,
            "noise_reduction": None,
            "turn_detection": {
                "type": "server_vad",
                "threshold": 0.5,
                "prefix_padding_ms": 300,
                "silence_duration_ms": 200,
                "idle_timeout_ms": None,
                "create_response": True,
                "interrupt_response": True,
            },
        },
        "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy", "speed": 1.0},
    },
    "include": None,
}

FUNCTION_TOOL: dict[str, Any] = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "when": {"type": "object", "properties": {"day": {"type": "string"}}},
        },
        "required": ["city"],
        "additionalProperties": False,
    },
}

MCP_TOOL: dict[str, Any] = {
    "type": "mcp",
    "server_label": "deepwiki",
    "server_url": "https://mcp.deepwiki.com/mcp",
    "authorization": "oauth-token-123",
    "headers": {"X-Team": "voice"},
    "server_description": "Answers questions about public repositories.",
    "allowed_tools": {"tool_names": ["ask_question", "read_wiki"], "read_only": True},
    "require_approval": {
        "always": {"tool_names": ["ask_question"], "read_only": False},
        "never": {"tool_names": ["read_wiki"], "read_only": True},
    },
    "allowed_callers": ["direct", "programmatic"],
    "defer_loading": False,
}

CONNECTOR_TOOL: dict[str, Any] = {
    "type": "mcp",
    "server_label": "calendar",
    "connector_id": "connector_googlecalendar",
    "allowed_tools": ["search_events"],
    "require_approval": "never",
    "headers": None,
}

TUNNEL_TOOL: dict[str, Any] = {
    "type": "mcp",
    "server_label": "intranet",
    "tunnel_id": "tunnel_0123456789abcdef0123456789abcdef",
    "allowed_tools": None,
    "require_approval": None,
    "allowed_callers": None,
}

FULL_SESSION: dict[str, Any] = {
    # Every member of a realtime session set to something other than its default.
    "type": "realtime",
    "object": "realtime.session",
    "id": "sess_CsOw3N0SQJvA1bW8Zt7aX",
    "model": "gpt-realtime-2",
    "output_modalities": ["text"],
    "instructions": "Be brief.",
    "tools": [FUNCTION_TOOL, MCP_TOOL, CONNECTOR_TOOL, TUNNEL_TOOL],
    "tool_choice": {"type": "mcp", "server_label": "deepwiki", "name": "ask_question"},
    "parallel_tool_calls": True,
    "reasoning": {"effort": "low"},
    "max_output_tokens": 4096,
    "tracing": {"workflow_name": "support", "group_id": "grp_42", "metadata": {"tier": "gold"}},
    "truncation": {
        "type": "retention_ratio",
        "retention_ratio": 0.8,
        "token_limits": {"post_instructions": 8000},
    },
    "prompt": {
        "id": "pmpt_68b0d5c4f3a0819690f1e0c1d2e3f4a5",
        "version": "3",
        "variables": {
            "city": "Paris",
            "photo": {"type": "input_image", "image_url": PNG, "detail": "low"},
        },
    },
    "expires_at": 1767233035,
    "audio": {
        "input": {
            "format": {"type": "audio/pcmu"},
            "noise_reduction": {"type": "far_field", "strength": 0.6},
            "transcription": {
                "model": "gpt-transcribe",
                "language": "en",
                "prompt": "rtcore, Realtime",
                "languages": ["en", "fr"],
                "keywords": ["rtcore"],
                "delay": "low",
            },
            "turn_detection": {
                "type": "semantic_vad",
                "eagerness": "high",
                "create_response": True,
                "interrupt_response": False,
            },
        },
        "output": {"format": {"type": "audio/pcma"}, "voice": {"id": "voice_1234"}, "speed": 1.25},
    },
    "include": ["item.input_audio_transcription.logprobs"],
}

SESSION_CONFIG: dict[str, Any] = {
    k: v for k, v in FULL_SESSION.items() if k not in ("id", "object", "expires_at")
}

TRANSCRIPTION_SESSION: dict[str, Any] = {
    "type": "transcription",
    "object": "realtime.transcription_session",
    "id": "sess_CsP0yqG1aW1v7Lz5T2c9H",
    "expires_at": 1767233035,
    "audio": {
        "input": {
            "format": {"type": "audio/pcm", "rate": 24000},
            "noise_reduction": {"type": "near_field"},
            "transcription": {"model": "gpt-4o-transcribe-diarize", "language": "en", "prompt": ""},
            "turn_detection": {
                "type": "server_vad",
                "threshold": 0.5,
                "prefix_padding_ms": 300,
                "silence_duration_ms": 500,
            },
        }
    },
    "include": ["item.input_audio_transcription.logprobs"],
}

# -- items (docs/protocol/ga.md#items) ----------------------------------------------------

USER_ITEM: dict[str, Any] = {
    "id": "item_user_1",
    "object": "realtime.item",
    "type": "message",
    "status": "completed",
    "role": "user",
    "content": [
        {"type": "input_text", "text": "What is in this picture?"},
        {"type": "input_image", "image_url": PNG, "detail": "high"},
        {"type": "input_audio", "audio": PCM, "transcript": "What is in this picture?"},
    ],
}

# A committed user audio item as the server echoes it: no bytes, transcript null.
USER_AUDIO_ECHO: dict[str, Any] = {
    "id": "item_user_2",
    "type": "message",
    "status": "completed",
    "role": "user",
    "content": [{"type": "input_audio", "transcript": None}],
}

SYSTEM_ITEM: dict[str, Any] = {
    "type": "message",
    "role": "system",
    "content": [{"type": "input_text", "text": "The user is in Paris."}],
}

ASSISTANT_ITEM: dict[str, Any] = {
    "id": "item_asst_1",
    "type": "message",
    "status": "completed",
    "role": "assistant",
    "content": [{"type": "output_audio", "transcript": "A cat on a sofa."}],
}

ASSISTANT_TEXT_ITEM: dict[str, Any] = {
    "id": "item_asst_2",
    "type": "message",
    "status": "incomplete",
    "role": "assistant",
    "content": [{"type": "output_text", "text": "A cat on a"}],
}

FUNCTION_CALL_ITEM: dict[str, Any] = {
    "id": "item_fc_1",
    "object": "realtime.item",
    "type": "function_call",
    "status": "completed",
    "call_id": "call_4k2lq9fG7xP0aB1c",
    "name": "get_weather",
    "arguments": '{"city":"Paris"}',
}

FUNCTION_OUTPUT_ITEM: dict[str, Any] = {
    "id": "item_fco_1",
    "object": "realtime.item",
    "type": "function_call_output",
    "status": "completed",
    "call_id": "call_4k2lq9fG7xP0aB1c",
    "output": '{"temp_c":21}',
}

MCP_LIST_TOOLS_ITEM: dict[str, Any] = {
    "type": "mcp_list_tools",
    "id": "mcpl_1",
    "server_label": "deepwiki",
    "tools": [
        {
            "name": "ask_question",
            "description": "Ask a question about a repository.",
            "input_schema": {
                "type": "object",
                "properties": {"repoName": {"type": "string"}, "question": {"type": "string"}},
                "required": ["repoName", "question"],
            },
            "annotations": {"readOnlyHint": True},
        },
        {"name": "read_wiki", "input_schema": {"type": "object"}, "description": None},
    ],
}

MCP_CALL_ITEM: dict[str, Any] = {
    "type": "mcp_call",
    "id": "mcp_1",
    "server_label": "deepwiki",
    "name": "ask_question",
    "arguments": '{"repoName":"python-hyper/h11","question":"What is h11?"}',
    "approval_request_id": "mcpr_1",
    "output": "A pure-Python HTTP/1.1 protocol library.",
    "error": None,
}

MCP_APPROVAL_REQUEST_ITEM: dict[str, Any] = {
    "type": "mcp_approval_request",
    "id": "mcpr_1",
    "server_label": "deepwiki",
    "name": "ask_question",
    "arguments": '{"repoName":"python-hyper/h11","question":"What is h11?"}',
}

MCP_APPROVAL_RESPONSE_ITEM: dict[str, Any] = {
    "type": "mcp_approval_response",
    "id": "mcpa_1",
    "approval_request_id": "mcpr_1",
    "approve": True,
    "reason": "The user asked for it.",
}


def mcp_failed_call(error: dict[str, Any]) -> dict[str, Any]:
    """``MCP_CALL_ITEM`` as it ends when the call failed with ``error``."""
    item = {k: v for k, v in MCP_CALL_ITEM.items() if k != "approval_request_id"}
    return {**item, "output": None, "error": error}


MCP_ERRORS: list[dict[str, Any]] = [
    {"type": "protocol_error", "code": -32602, "message": "Invalid params"},
    {"type": "tool_execution_error", "message": "Repository not found"},
    {"type": "http_error", "code": 503, "message": "Service Unavailable"},
]

# -- responses (docs/protocol/ga.md#response-parameters, docs/protocol/ga.md#response-object) ---

USAGE: dict[str, Any] = {
    "total_tokens": 412,
    "input_tokens": 312,
    "output_tokens": 100,
    "input_token_details": {
        "text_tokens": 150,
        "audio_tokens": 100,
        "image_tokens": 62,
        "cached_tokens": 128,
        "cached_tokens_details": {"text_tokens": 64, "audio_tokens": 0, "image_tokens": 64},
    },
    "output_token_details": {"text_tokens": 20, "audio_tokens": 80},
}

RESPONSE_CREATED: dict[str, Any] = {
    # The real key order (docs/protocol/ga.md#response-object).
    "object": "realtime.response",
    "id": "resp_CsOwB4Fx0LlQ6u8Qy9Rr1",
    "status": "in_progress",
    "status_details": None,
    "output": [],
    "conversation_id": "conv_CsOw3X0aQGlHv8sU1nq2p",
    "output_modalities": ["audio"],
    "max_output_tokens": "inf",
    "audio": {"output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "marin"}},
    "usage": None,
    "metadata": None,
}

RESPONSE_DONE: dict[str, Any] = {
    **RESPONSE_CREATED,
    "status": "failed",
    "status_details": {
        "type": "failed",
        "reason": "content_filter",
        "error": {"type": "server_error", "code": "boom", "message": "It broke."},
    },
    "output": [
        ASSISTANT_ITEM,
        FUNCTION_CALL_ITEM,
        MCP_LIST_TOOLS_ITEM,
        MCP_APPROVAL_REQUEST_ITEM,
        MCP_CALL_ITEM,
    ],
    "output_modalities": ["text"],
    "max_output_tokens": 1024,
    "audio": {"output": {"format": {"type": "audio/pcmu"}, "voice": "cedar"}},
    "usage": USAGE,
    "metadata": {"topic": "weather"},
}

RESPONSE_PARAMS: dict[str, Any] = {
    "output_modalities": ["audio"],
    "instructions": "Answer in French.",
    "audio": {"output": {"format": {"type": "audio/pcma"}, "voice": {"id": "voice_1234"}}},
    "tools": [FUNCTION_TOOL, MCP_TOOL],
    "tool_choice": {"type": "function", "name": "get_weather"},
    "max_output_tokens": "inf",
    "conversation": "none",
    "metadata": {"topic": "weather", "turn": "7"},
    "input": [
        {"type": "item_reference", "id": "item_user_1"},
        SYSTEM_ITEM,
        USER_ITEM,
        FUNCTION_CALL_ITEM,
        FUNCTION_OUTPUT_ITEM,
        MCP_APPROVAL_RESPONSE_ITEM,
    ],
    "prompt": {"id": "pmpt_68b0d5c4f3a0819690f1e0c1d2e3f4a5", "version": None, "variables": None},
    "reasoning": {"effort": "minimal"},
    "parallel_tool_calls": False,
}

PART_IDS: dict[str, Any] = {
    "response_id": "resp_CsOwB4Fx0LlQ6u8Qy9Rr1",
    "item_id": "item_asst_1",
    "output_index": 0,
    "content_index": 0,
}
MCP_IDS: dict[str, Any] = {"item_id": "mcp_1", "output_index": 4}

# -- the examples ------------------------------------------------------------------------

GA_SERVER_EXAMPLES: dict[str, dict[str, Any]] = {
    "error": {
        "error": {
            "type": "invalid_request_error",
            "code": "missing_required_parameter",
            "message": "Missing required parameter: 'session.type'.",
            "param": "session.type",
            "event_id": "evt_client_1",
        }
    },
    "session.created": {"session": DEFAULT_SESSION},
    "session.updated": {"session": FULL_SESSION},
    "conversation.created": {
        "conversation": {"id": "conv_CsOw3X0aQGlHv8sU1nq2p", "object": "realtime.conversation"}
    },
    "conversation.item.created": {"previous_item_id": "item_user_0", "item": USER_ITEM},
    "conversation.item.added": {"previous_item_id": None, "item": USER_AUDIO_ECHO},
    "conversation.item.done": {"previous_item_id": "item_user_2", "item": ASSISTANT_ITEM},
    "conversation.item.retrieved": {
        # The full item, audio included (docs/protocol/ga.md#conversation-item-retrieve).
        "item": {
            **ASSISTANT_ITEM,
            "content": [{"type": "output_audio", "audio": PCM, "transcript": "A cat on a sofa."}],
        }
    },
    "conversation.item.truncated": {
        "item_id": "item_asst_1",
        "content_index": 0,
        "audio_end_ms": 1500,
    },
    "conversation.item.deleted": {"item_id": "item_user_1"},
    "conversation.item.input_audio_transcription.delta": {
        "item_id": "item_user_2",
        "content_index": 0,
        "delta": "Hello",
        "logprobs": [{"token": "Hello", "logprob": -0.01, "bytes": [72, 101, 108, 108, 111]}],
        "obfuscation": "aT9r",
    },
    "conversation.item.input_audio_transcription.completed": {
        "item_id": "item_user_2",
        "content_index": 0,
        "transcript": "Hello, how are you?",
        "usage": {
            "type": "tokens",
            "input_tokens": 10,
            "output_tokens": 5,
            "total_tokens": 15,
            "input_token_details": {"text_tokens": 0, "audio_tokens": 10},
        },
        "logprobs": None,
        "languages": [{"code": "en"}],
    },
    "conversation.item.input_audio_transcription.failed": {
        "item_id": "item_user_2",
        "content_index": 0,
        "error": {
            "type": "transcription_error",
            "code": "audio_unintelligible",
            "message": "The audio could not be transcribed.",
            "param": None,
        },
    },
    "conversation.item.input_audio_transcription.segment": {
        "item_id": "item_user_2",
        "content_index": 0,
        "id": "seg_0001",
        "text": "Hello, how are you?",
        "speaker": "A",
        "start": 0.0,
        "end": 1.25,
    },
    "input_audio_buffer.committed": {"previous_item_id": "item_asst_0", "item_id": "item_user_2"},
    "input_audio_buffer.cleared": {},
    "input_audio_buffer.speech_started": {"audio_start_ms": 1000, "item_id": "item_user_2"},
    "input_audio_buffer.speech_stopped": {"audio_end_ms": 2000, "item_id": "item_user_2"},
    "input_audio_buffer.timeout_triggered": {
        "audio_start_ms": 5000,
        "audio_end_ms": 11000,
        "item_id": "item_user_3",
    },
    "input_audio_buffer.dtmf_event_received": {"event": "5", "received_at": 1767229435},
    "rate_limits.updated": {
        "rate_limits": [
            {"name": "tokens", "limit": 40000, "remaining": 38490, "reset_seconds": 2.265},
            {"name": "requests", "limit": 5000, "remaining": 4999, "reset_seconds": 0.012},
        ]
    },
    "response.created": {"response": RESPONSE_CREATED},
    "response.done": {"response": RESPONSE_DONE},
    "response.output_item.added": {
        "response_id": "resp_CsOwB4Fx0LlQ6u8Qy9Rr1",
        "output_index": 0,
        "item": {**ASSISTANT_ITEM, "status": "in_progress", "content": []},
    },
    "response.output_item.done": {
        "response_id": "resp_CsOwB4Fx0LlQ6u8Qy9Rr1",
        "output_index": 0,
        "item": ASSISTANT_ITEM,
    },
    # Part events keep the beta part names (docs/protocol/ga.md#content-part).
    "response.content_part.added": {**PART_IDS, "part": {"type": "audio", "transcript": ""}},
    "response.content_part.done": {
        **PART_IDS,
        "part": {"type": "audio", "audio": PCM, "transcript": "A cat on a sofa."},
    },
    "response.output_text.delta": {**PART_IDS, "delta": "A cat", "obfuscation": "k3Jx9"},
    "response.output_text.done": {**PART_IDS, "text": "A cat on a sofa."},
    "response.output_audio.delta": {**PART_IDS, "delta": PCM, "obfuscation": "Qz"},
    "response.output_audio.done": dict(PART_IDS),
    "response.output_audio_transcript.delta": {
        **PART_IDS,
        "delta": "A cat",
        "obfuscation": "LBqdwEYsSEHbF",
    },
    "response.output_audio_transcript.done": {**PART_IDS, "transcript": "A cat on a sofa."},
    "response.function_call_arguments.delta": {
        "response_id": "resp_CsOwB4Fx0LlQ6u8Qy9Rr1",
        "item_id": "item_fc_1",
        "output_index": 1,
        "call_id": "call_4k2lq9fG7xP0aB1c",
        "delta": '{"ci',
    },
    "response.function_call_arguments.done": {
        "response_id": "resp_CsOwB4Fx0LlQ6u8Qy9Rr1",
        "item_id": "item_fc_1",
        "output_index": 1,
        "call_id": "call_4k2lq9fG7xP0aB1c",
        "name": "get_weather",
        "arguments": '{"city":"Paris"}',
    },
    "mcp_list_tools.in_progress": {"item_id": "mcpl_1"},
    "mcp_list_tools.completed": {"item_id": "mcpl_1"},
    "mcp_list_tools.failed": {"item_id": "mcpl_1"},
    "response.mcp_call_arguments.delta": {
        "response_id": "resp_CsOwB4Fx0LlQ6u8Qy9Rr1",
        **MCP_IDS,
        "delta": '{"repoName":',
        "obfuscation": "p0Xq",
    },
    "response.mcp_call_arguments.done": {
        "response_id": "resp_CsOwB4Fx0LlQ6u8Qy9Rr1",
        **MCP_IDS,
        "arguments": MCP_CALL_ITEM["arguments"],
    },
    "response.mcp_call.in_progress": dict(MCP_IDS),
    "response.mcp_call.completed": dict(MCP_IDS),
    "response.mcp_call.failed": dict(MCP_IDS),
    "output_audio_buffer.started": {"response_id": "resp_CsOwB4Fx0LlQ6u8Qy9Rr1"},
    "output_audio_buffer.stopped": {"response_id": "resp_CsOwB4Fx0LlQ6u8Qy9Rr1"},
    "output_audio_buffer.cleared": {"response_id": "resp_CsOwB4Fx0LlQ6u8Qy9Rr1"},
}

GA_CLIENT_EXAMPLES: dict[str, dict[str, Any]] = {
    "session.update": {"session": SESSION_CONFIG},
    "input_audio_buffer.append": {"audio": PCM},
    "input_audio_buffer.commit": {},
    "input_audio_buffer.clear": {},
    "output_audio_buffer.clear": {},
    "conversation.item.create": {"previous_item_id": "root", "item": USER_ITEM},
    "conversation.item.truncate": {
        "item_id": "item_asst_1",
        "content_index": 0,
        "audio_end_ms": 1500,
    },
    "conversation.item.delete": {"item_id": "item_user_1"},
    "conversation.item.retrieve": {"item_id": "item_user_1"},
    "response.create": {"response": RESPONSE_PARAMS},
    "response.cancel": {"response_id": "resp_CsOwB4Fx0LlQ6u8Qy9Rr1"},
}

NO_EVENT_ID = {"input_audio_buffer.dtmf_event_received"}
"""GA server events without ``event_id`` (docs/protocol/connection.md#envelope)."""


def ga_server_message(event_type: str, n: int = 1) -> dict[str, Any]:
    """The example of a GA server event as a message dict (a fresh copy)."""
    head: dict[str, Any] = {"type": event_type}
    if event_type not in NO_EVENT_ID:
        head["event_id"] = f"event_{n:021d}"
    return copy.deepcopy({**head, **GA_SERVER_EXAMPLES[event_type]})


def ga_client_message(event_type: str, event_id: str = "evt_client_1") -> dict[str, Any]:
    """The example of a GA client event as a message dict (a fresh copy)."""
    head = {"type": event_type, "event_id": event_id}
    return copy.deepcopy({**head, **GA_CLIENT_EXAMPLES[event_type]})


Role = Literal["server", "client"]


def _server(event_type: str, **fields: Any) -> dict[str, Any]:
    return {"type": event_type, "event_id": "event_CsOwBAbJGK6LPpZy7vEf4", **fields}


GA_VARIANTS: dict[str, tuple[Role, dict[str, Any]]] = {
    "transcription session created": (
        "server",
        _server("session.created", session=TRANSCRIPTION_SESSION),
    ),
    "tracing auto, custom voice id, pcm without rate": (
        "server",
        _server(
            "session.updated",
            session={
                **DEFAULT_SESSION,
                "tracing": "auto",
                "truncation": "disabled",
                "audio": {
                    "input": {**DEFAULT_SESSION["audio"]["input"], "format": {"type": "audio/pcm"}},
                    "output": {"voice": {"id": "voice_abc123"}},
                },
            },
        ),
    ),
    "function tool choice, server VAD idle timeout": (
        "client",
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "tool_choice": {"type": "function", "name": "get_weather"},
                "tracing": "auto",
                "audio": {
                    "input": {
                        "turn_detection": {
                            "type": "server_vad",
                            "threshold": 0.6,
                            "prefix_padding_ms": 200,
                            "silence_duration_ms": 400,
                            "idle_timeout_ms": 6000,
                            "create_response": False,
                            "interrupt_response": False,
                        }
                    },
                    "output": {"voice": "marin"},
                },
            },
        },
    ),
    # What LiveKit's plugin sends: null means "not set" (issue 11, item 5).
    "nulls for optional members": (
        "client",
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "model": None,
                "output_modalities": None,
                "instructions": None,
                "audio": {
                    "input": {
                        "format": None,
                        "noise_reduction": None,
                        "transcription": {
                            "model": None,
                            "language": None,
                            "prompt": None,
                            "languages": None,
                            "keywords": None,
                            "delay": None,
                        },
                        "turn_detection": {
                            "type": "semantic_vad",
                            "eagerness": None,
                            "create_response": None,
                            "interrupt_response": None,
                        },
                    },
                    "output": {"format": None, "voice": None, "speed": None},
                },
                "include": None,
                "max_output_tokens": None,
                "tools": None,
                "tool_choice": None,
                "parallel_tool_calls": None,
                "reasoning": {"effort": None},
                "tracing": None,
                "truncation": None,
                "prompt": None,
            },
        },
    ),
    "nulls in server VAD": (
        "client",
        {
            "type": "session.update",
            "session": {
                "type": "realtime",
                "audio": {
                    "input": {
                        "turn_detection": {
                            "type": "server_vad",
                            "threshold": None,
                            "prefix_padding_ms": None,
                            "silence_duration_ms": None,
                            "idle_timeout_ms": None,
                            "create_response": None,
                            "interrupt_response": None,
                        }
                    },
                    "output": None,
                },
            },
        },
    ),
    "audio null, turn detection off": (
        "client",
        {
            "type": "session.update",
            "session": {"type": "realtime", "audio": {"input": {"turn_detection": None}}},
        },
    ),
    "transcription session update": (
        "client",
        {
            "type": "session.update",
            "session": {
                "type": "transcription",
                "audio": {
                    "input": {
                        "format": {"type": "audio/pcmu"},
                        "transcription": {"model": "gpt-realtime-whisper", "delay": "minimal"},
                        "turn_detection": None,
                    }
                },
                "include": ["item.input_audio_transcription.logprobs"],
            },
        },
    ),
    "transcription session without audio": (
        "client",
        {"type": "session.update", "session": {"type": "transcription", "audio": None}},
    ),
    "response.create with nulls and no tools": (
        "client",
        {
            "type": "response.create",
            "response": {
                "output_modalities": None,
                "instructions": None,
                "audio": None,
                "tools": [],
                "tool_choice": "required",
                "max_output_tokens": None,
                "conversation": None,
                "metadata": None,
                "input": None,
                "prompt": None,
                "reasoning": None,
                "parallel_tool_calls": None,
            },
        },
    ),
    "response.create with an empty context": (
        "client",
        {
            "type": "response.create",
            "response": {
                "conversation": "auto",
                "input": [],
                "tool_choice": {"type": "mcp", "server_label": "deepwiki", "name": None},
                "audio": {"output": {"format": None, "voice": "verse"}},
            },
        },
    ),
    "response.create null": ("client", {"type": "response.create", "response": None}),
    "bare response.create": ("client", {"type": "response.create"}),
    "response.cancel without an id": ("client", {"type": "response.cancel"}),
    "item create after the last item": (
        "client",
        {"type": "conversation.item.create", "previous_item_id": None, "item": SYSTEM_ITEM},
    ),
    "approval response item": (
        "client",
        {"type": "conversation.item.create", "item": MCP_APPROVAL_RESPONSE_ITEM},
    ),
    "function output item": (
        "client",
        {
            "type": "conversation.item.create",
            "item": {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
        },
    ),
    "assistant text item created by the client": (
        "client",
        {"type": "conversation.item.create", "item": ASSISTANT_TEXT_ITEM},
    ),
    "model output item added": (
        "server",
        _server(
            "conversation.item.added",
            previous_item_id="item_user_2",
            item={**ASSISTANT_ITEM, "status": "in_progress", "content": []},
        ),
    ),
    "function call added": (
        "server",
        _server(
            "response.output_item.added",
            response_id="resp_CsOwB4Fx0LlQ6u8Qy9Rr1",
            output_index=1,
            item={**FUNCTION_CALL_ITEM, "status": "in_progress", "arguments": ""},
        ),
    ),
    "MCP list tools item done": (
        "server",
        _server("conversation.item.done", item=MCP_LIST_TOOLS_ITEM),
    ),
    "MCP approval request added": (
        "server",
        _server("conversation.item.added", item=MCP_APPROVAL_REQUEST_ITEM),
    ),
    **{
        f"MCP call failed: {error['type']}": (
            "server",
            _server(
                "response.output_item.done",
                response_id="resp_CsOwB4Fx0LlQ6u8Qy9Rr1",
                output_index=4,
                item=mcp_failed_call(error),
            ),
        )
        for error in MCP_ERRORS
    },
    "text response created": (
        "server",
        _server(
            "response.created",
            response={
                **RESPONSE_CREATED,
                "output_modalities": ["text"],
                "conversation_id": None,
                "metadata": {"purpose": "classification"},
            },
        ),
    ),
    "cancelled response": (
        "server",
        _server(
            "response.done",
            response={
                **RESPONSE_CREATED,
                "status": "cancelled",
                "status_details": {"type": "cancelled", "reason": "turn_detected"},
                "output": [ASSISTANT_TEXT_ITEM],
                "usage": {"total_tokens": 0, "input_tokens": 0, "output_tokens": 0},
            },
        ),
    ),
    "custom voice in a response": (
        "server",
        _server(
            "response.done",
            response={
                **RESPONSE_CREATED,
                "status": "completed",
                "audio": {
                    "output": {"format": {"type": "audio/pcm"}, "voice": {"id": "voice_1234"}}
                },
                "usage": USAGE,
            },
        ),
    ),
    "text part": (
        "server",
        _server("response.content_part.done", **PART_IDS, part={"type": "text", "text": "Hi"}),
    ),
    "duration usage of a transcription": (
        "server",
        _server(
            "conversation.item.input_audio_transcription.completed",
            item_id="item_user_2",
            content_index=0,
            transcript="Bonjour",
            usage={"type": "duration", "seconds": 1.5},
            logprobs=[{"token": "Bon", "logprob": -0.2, "bytes": [66, 111, 110]}],
            languages=[],
        ),
    ),
    "transcription failed, every member": (
        "server",
        _server(
            "conversation.item.input_audio_transcription.failed",
            item_id="item_user_2",
            content_index=0,
            error={
                "type": "invalid_request_error",
                "code": "invalid_value",
                "message": "Unsupported language.",
                "param": "audio.input.transcription.language",
            },
        ),
    ),
    "MCP arguments delta with null obfuscation": (
        "server",
        _server(
            "response.mcp_call_arguments.delta",
            response_id="resp_CsOwB4Fx0LlQ6u8Qy9Rr1",
            **MCP_IDS,
            delta="}",
            obfuscation=None,
        ),
    ),
    # Whether the live server adds an event_id to DTMF events is unknown
    # (docs/protocol/choices.md#dtmf-event-id).
    "DTMF with an event_id": (
        "server",
        _server("input_audio_buffer.dtmf_event_received", event="#", received_at=1767229440),
    ),
    "transcription delta without extras": (
        "server",
        _server(
            "conversation.item.input_audio_transcription.delta",
            item_id="item_user_2",
            content_index=0,
            delta=" there",
            logprobs=None,
            obfuscation=None,
        ),
    ),
    "first committed item": (
        "server",
        _server("input_audio_buffer.committed", previous_item_id=None, item_id="item_user_1"),
    ),
    # The spec's own GA examples still use the beta part names in items
    # (docs/protocol/choices.md#beta-part-names-in-items).
    "beta part names in a retrieved item": (
        "server",
        _server(
            "conversation.item.retrieved",
            item={
                **ASSISTANT_ITEM,
                "content": [
                    {"type": "audio", "audio": PCM, "transcript": "Hello"},
                    {"type": "text", "text": "Hello"},
                ],
            },
        ),
    ),
    # Beta streaming names a GA server has been seen sending
    # (docs/protocol/choices.md#beta-names-in-ga).
    "beta text delta in GA": ("server", _server("response.text.delta", **PART_IDS, delta="Hi")),
    "beta text done in GA": ("server", _server("response.text.done", **PART_IDS, text="Hi")),
    "beta audio delta in GA": ("server", _server("response.audio.delta", **PART_IDS, delta=PCM)),
    "beta audio done in GA": ("server", _server("response.audio.done", **PART_IDS)),
    "beta transcript delta in GA": (
        "server",
        _server("response.audio_transcript.delta", **PART_IDS, delta="Hi"),
    ),
    "beta transcript done in GA": (
        "server",
        _server("response.audio_transcript.done", **PART_IDS, transcript="Hi there"),
    ),
    # What the live server sent transcription sessions in Oct 2025
    # (docs/protocol/connection.md#session-type).
    "beta transcription session created in GA": (
        "server",
        _server(
            "transcription_session.created",
            session={
                "id": "sess_t",
                "object": "realtime.transcription_session",
                "input_audio_format": "pcm16",
                "input_audio_transcription": {"model": "whisper-1", "language": None, "prompt": ""},
                "turn_detection": None,
            },
        ),
    ),
    "beta transcription session updated in GA": (
        "server",
        _server("transcription_session.updated", session={"id": "sess_t", "include": None}),
    ),
}


def all_ga_messages() -> list[tuple[str, Role, dict[str, Any]]]:
    """Every GA example and variant as ``(name, role, message)``, fresh copies."""
    out: list[tuple[str, Role, dict[str, Any]]] = []
    out += [(t, "server", ga_server_message(t)) for t in GA_SERVER_EXAMPLES]
    out += [(t, "client", ga_client_message(t)) for t in GA_CLIENT_EXAMPLES]
    out += [(name, role, copy.deepcopy(m)) for name, (role, m) in GA_VARIANTS.items()]
    return out


# -- large audio messages (the codec's audio fast path) -----------------------------------


def audio_bytes(n: int) -> bytes:
    """``n`` bytes of deterministic, non-silent audio."""
    return bytes((i * 7 + 3) % 256 for i in range(n))


BIG = base64.b64encode(audio_bytes(3000)).decode()
"""3000 bytes of audio in base64: large enough for the audio fast path."""


def audio_message(event_type: str, field: str, b64: str, *, last: bool = True, **extra: Any) -> str:
    """A compact audio message with its base64 ``field`` written last (or first).

    ``response.output_audio.delta`` carries ``obfuscation`` too, as real deltas may.
    """
    fields: dict[str, Any] = {"event_id": "event_1"}
    if event_type != "input_audio_buffer.append":
        fields.update(PART_IDS)
    if event_type == "response.output_audio.delta":
        fields["obfuscation"] = "x9Qz"
    body = {"type": event_type, **fields, **extra}
    head = json.dumps(body, separators=(",", ":"))[:-1]  # without the closing brace
    audio = f'"{field}":"{b64}"'
    if last:
        return head + "," + audio + "}"
    opening = '{"type":' + json.dumps(event_type) + ","
    return opening + audio + "," + head[len(opening) :] + "}"
