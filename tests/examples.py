"""One full example payload per event type, every optional field present.

Values follow docs/protocol/beta.md and the real payloads in tests/data/captures/. The
tests check that the set of examples covers every event class.
"""

from __future__ import annotations

import base64
from typing import Any

PCM = base64.b64encode(bytes(range(256)) * 2).decode()  # 512 bytes = 256 samples

SESSION: dict[str, Any] = {
    "id": "sess_BaPsbBBHFu1fj56wDcEm4",
    "object": "realtime.session",
    "expires_at": 1748020790,
    "input_audio_noise_reduction": {"type": "near_field"},
    "turn_detection": {
        "type": "server_vad",
        "threshold": 0.5,
        "prefix_padding_ms": 300,
        "silence_duration_ms": 200,
        "create_response": True,
        "interrupt_response": True,
    },
    "input_audio_format": "pcm16",
    "input_audio_transcription": {"model": "whisper-1", "language": "en", "prompt": None},
    "client_secret": None,
    "include": None,
    "model": "gpt-4o-realtime-preview-2024-12-17",
    "modalities": ["text", "audio"],
    "instructions": "Be brief.",
    "voice": "alloy",
    "output_audio_format": "pcm16",
    "tool_choice": "auto",
    "temperature": 0.8,
    "max_response_output_tokens": "inf",
    "speed": 1,
    "tracing": None,
    "tools": [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Weather for a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        }
    ],
}

SESSION_CONFIG: dict[str, Any] = {
    k: v for k, v in SESSION.items() if k not in ("id", "object", "expires_at", "client_secret")
}

USER_TEXT_ITEM: dict[str, Any] = {
    "id": "msg_001",
    "object": "realtime.item",
    "type": "message",
    "status": "completed",
    "role": "user",
    "content": [{"type": "input_text", "text": "Hello!"}],
}

USER_AUDIO_ITEM: dict[str, Any] = {
    "id": "item_user_audio",
    "object": "realtime.item",
    "type": "message",
    "status": "completed",
    "role": "user",
    "content": [{"type": "input_audio", "audio": PCM, "transcript": None}],
}

ASSISTANT_ITEM: dict[str, Any] = {
    "id": "item_asst",
    "object": "realtime.item",
    "type": "message",
    "status": "completed",
    "role": "assistant",
    "content": [
        {"type": "audio", "transcript": "Hi there!"},
        {"type": "text", "text": "Hi there!"},
    ],
}

FUNCTION_CALL_ITEM: dict[str, Any] = {
    "id": "item_fc",
    "object": "realtime.item",
    "type": "function_call",
    "status": "completed",
    "call_id": "call_4k2lq9fG7xP0aB1c",
    "name": "get_weather",
    "arguments": '{"city":"Paris"}',
}

FUNCTION_OUTPUT_ITEM: dict[str, Any] = {
    "id": "item_fco",
    "object": "realtime.item",
    "type": "function_call_output",
    "status": "completed",
    "call_id": "call_4k2lq9fG7xP0aB1c",
    "output": '{"temp_c":21}',
}

USAGE: dict[str, Any] = {
    "total_tokens": 300,
    "input_tokens": 200,
    "output_tokens": 100,
    "input_token_details": {
        "cached_tokens": 64,
        "text_tokens": 150,
        "audio_tokens": 50,
        "cached_tokens_details": {"text_tokens": 64, "audio_tokens": 0},
    },
    "output_token_details": {"text_tokens": 20, "audio_tokens": 80},
}

RESPONSE_DONE: dict[str, Any] = {
    "object": "realtime.response",
    "id": "resp_001",
    "status": "failed",
    "status_details": {
        "type": "failed",
        "reason": "content_filter",
        "error": {"type": "server_error", "code": "boom", "message": "It broke."},
    },
    "output": [ASSISTANT_ITEM, FUNCTION_CALL_ITEM],
    "conversation_id": "conv_001",
    "modalities": ["audio", "text"],
    "voice": "coral",
    "output_audio_format": "g711_ulaw",
    "temperature": 0.7,
    "max_output_tokens": 1024,
    "usage": USAGE,
    "metadata": {"topic": "weather"},
}

PART_IDS: dict[str, Any] = {
    "response_id": "resp_001",
    "item_id": "item_asst",
    "output_index": 0,
    "content_index": 0,
}

SERVER_EXAMPLES: dict[str, dict[str, Any]] = {
    "error": {
        "error": {
            "type": "invalid_request_error",
            "code": "unknown_parameter",
            "message": "Unknown parameter: 'session.foo'.",
            "param": "session.foo",
            "event_id": "evt_client_1",
        }
    },
    "session.created": {"session": SESSION},
    "session.updated": {"session": SESSION},
    "conversation.created": {"conversation": {"id": "conv_001", "object": "realtime.conversation"}},
    "conversation.item.created": {"previous_item_id": "msg_000", "item": USER_TEXT_ITEM},
    "conversation.item.input_audio_transcription.completed": {
        "item_id": "item_user_audio",
        "content_index": 0,
        "transcript": "Hello, how are you?\n",
        "usage": {
            "type": "tokens",
            "input_tokens": 10,
            "output_tokens": 5,
            "total_tokens": 15,
            "input_token_details": {"text_tokens": 0, "audio_tokens": 10},
        },
        "logprobs": [{"token": "Hello", "logprob": -0.01, "bytes": [72, 101, 108, 108, 111]}],
    },
    "conversation.item.input_audio_transcription.failed": {
        "item_id": "msg_003",
        "content_index": 0,
        "error": {
            "type": "transcription_error",
            "code": "audio_unintelligible",
            "message": "The audio could not be transcribed.",
            "param": None,
        },
    },
    "conversation.item.truncated": {
        "item_id": "item_asst",
        "content_index": 0,
        "audio_end_ms": 1500,
    },
    "conversation.item.deleted": {"item_id": "msg_001"},
    "input_audio_buffer.committed": {"previous_item_id": "msg_001", "item_id": "item_user_audio"},
    "input_audio_buffer.cleared": {},
    "input_audio_buffer.speech_started": {"audio_start_ms": 1000, "item_id": "item_user_audio"},
    "input_audio_buffer.speech_stopped": {"audio_end_ms": 2000, "item_id": "item_user_audio"},
    "response.created": {
        "response": {
            "object": "realtime.response",
            "id": "resp_001",
            "status": "in_progress",
            "status_details": None,
            "output": [],
            "conversation_id": "conv_001",
            "modalities": ["text"],
            "voice": "alloy",
            "output_audio_format": "pcm16",
            "temperature": 0.8,
            "max_output_tokens": "inf",
            "usage": None,
            "metadata": None,
        }
    },
    "response.done": {"response": RESPONSE_DONE},
    "response.output_item.added": {
        "response_id": "resp_001",
        "output_index": 0,
        "item": {**ASSISTANT_ITEM, "status": "in_progress", "content": []},
    },
    "response.output_item.done": {
        "response_id": "resp_001",
        "output_index": 0,
        "item": ASSISTANT_ITEM,
    },
    "response.content_part.added": {**PART_IDS, "part": {"type": "audio", "transcript": ""}},
    "response.content_part.done": {
        **PART_IDS,
        "part": {"type": "audio", "audio": PCM, "transcript": "Hi there!"},
    },
    "response.text.delta": {**PART_IDS, "delta": "Hi"},
    "response.text.done": {**PART_IDS, "text": "Hi there!"},
    "response.audio_transcript.delta": {**PART_IDS, "delta": "Hi"},
    "response.audio_transcript.done": {**PART_IDS, "transcript": "Hi there!"},
    "response.audio.delta": {**PART_IDS, "delta": PCM},
    "response.audio.done": dict(PART_IDS),
    "response.function_call_arguments.delta": {
        "response_id": "resp_001",
        "item_id": "item_fc",
        "output_index": 1,
        "call_id": "call_4k2lq9fG7xP0aB1c",
        "delta": '{"ci',
    },
    "response.function_call_arguments.done": {
        "response_id": "resp_001",
        "item_id": "item_fc",
        "output_index": 1,
        "call_id": "call_4k2lq9fG7xP0aB1c",
        "name": "get_weather",
        "arguments": '{"city":"Paris"}',
    },
    "rate_limits.updated": {
        "rate_limits": [
            {"name": "requests", "limit": 20000, "remaining": 19999, "reset_seconds": 0.003},
            {"name": "tokens", "limit": 15000000, "remaining": 14994510, "reset_seconds": 0.021},
        ]
    },
    "conversation.item.retrieved": {"item": USER_AUDIO_ITEM},
    "conversation.item.input_audio_transcription.delta": {
        "item_id": "item_user_audio",
        "content_index": 0,
        "delta": "Hello",
        "logprobs": None,
    },
    "conversation.item.input_audio_transcription.segment": {
        "item_id": "item_user_audio",
        "content_index": 0,
        "id": "seg_1",
        "start": 0.0,
        "end": 1.25,
        "speaker": "A",
        "text": "Hello",
    },
    "input_audio_buffer.timeout_triggered": {
        "audio_start_ms": 5000,
        "audio_end_ms": 10000,
        "item_id": "item_timeout",
    },
    "output_audio_buffer.started": {"response_id": "resp_001"},
    "output_audio_buffer.stopped": {"response_id": "resp_001"},
    "output_audio_buffer.cleared": {"response_id": "resp_001"},
    "transcription_session.created": {
        "session": {
            "id": "sess_t1",
            "object": "realtime.transcription_session",
            "expires_at": 1748020790,
            "client_secret": {"value": "ek_abc", "expires_at": 1748020790},
            "input_audio_format": "pcm16",
            "input_audio_transcription": {"model": "whisper-1", "language": "en", "prompt": ""},
            "turn_detection": {"type": "server_vad", "threshold": 0.5},
            "input_audio_noise_reduction": None,
            "include": ["item.input_audio_transcription.logprobs"],
            "modalities": ["text"],
        }
    },
    "transcription_session.updated": {
        "session": {
            "input_audio_format": "g711_alaw",
            "input_audio_transcription": None,
            "turn_detection": None,
        }
    },
}

CLIENT_EXAMPLES: dict[str, dict[str, Any]] = {
    "session.update": {
        "session": {
            **SESSION_CONFIG,
            "tool_choice": {"type": "function", "name": "get_weather"},
            "tracing": {"workflow_name": "wf", "group_id": "g", "metadata": {"a": 1}},
            "include": ["item.input_audio_transcription.logprobs"],
        }
    },
    "input_audio_buffer.append": {"audio": PCM},
    "input_audio_buffer.commit": {},
    "input_audio_buffer.clear": {},
    "conversation.item.create": {"previous_item_id": None, "item": USER_TEXT_ITEM},
    "conversation.item.truncate": {
        "item_id": "item_asst",
        "content_index": 0,
        "audio_end_ms": 1500,
    },
    "conversation.item.delete": {"item_id": "msg_001"},
    "conversation.item.retrieve": {"item_id": "msg_001"},
    "response.create": {
        "response": {
            "modalities": ["text"],
            "instructions": "Answer in French.",
            "voice": "sage",
            "output_audio_format": "g711_alaw",
            "tools": [{"name": "get_weather"}],
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
            "temperature": 0.9,
            "max_response_output_tokens": 200,
            "conversation": "none",
            "metadata": {"topic": "weather"},
            "input": [
                {"type": "item_reference", "id": "msg_001"},
                {
                    "type": "message",
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "And tomorrow?"},
                        {"type": "item_reference", "id": "msg_000"},
                    ],
                },
                FUNCTION_CALL_ITEM,
                FUNCTION_OUTPUT_ITEM,
            ],
        }
    },
    "response.cancel": {"response_id": "resp_001"},
    "output_audio_buffer.clear": {},
    "transcription_session.update": {
        "session": {
            "input_audio_format": "pcm16",
            "input_audio_transcription": {"model": "whisper-1", "language": "en", "prompt": ""},
            "turn_detection": {"type": "server_vad", "threshold": 0.5, "silence_duration_ms": 500},
            "input_audio_noise_reduction": {"type": "far_field"},
            "include": [],
            "modalities": ["text"],
        }
    },
}


def server_message(event_type: str, n: int = 1) -> dict[str, Any]:
    """The full example of a server event as a message dict."""
    return {"type": event_type, "event_id": f"event_{n:021d}", **SERVER_EXAMPLES[event_type]}


def client_message(event_type: str, event_id: str = "evt_client_1") -> dict[str, Any]:
    """The full example of a client event as a message dict."""
    return {"type": event_type, "event_id": event_id, **CLIENT_EXAMPLES[event_type]}
