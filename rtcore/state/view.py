"""The plain, JSON-ready view of a snapshot (``Snapshot.to_dict``).

Streaming values appear joined; audio appears as its length in milliseconds,
never as bytes, so the view stays small and printable.
"""

from __future__ import annotations

from typing import Any

import msgspec

from .model import ItemState, PartState, ResponseState, Snapshot

__all__ = ["snapshot_to_dict", "snapshot_to_text", "item_to_dict"]


def _plain(value: Any) -> Any:
    """A protocol object as JSON-ready data (lists, not tuples; base64, not bytes)."""
    return None if value is None else msgspec.json.decode(msgspec.json.encode(value))


def _part_to_dict(part: PartState) -> dict[str, Any]:
    return {
        "type": part.type,
        "text": None if part.text is None else part.text.value,
        "transcript": None if part.transcript is None else part.transcript.value,
        "audio_ms": part.audio_ms,
        "generated_transcript": part.generated_transcript,
        "truncated_at_ms": part.truncated_at_ms,
    }


def item_to_dict(item: ItemState) -> dict[str, Any]:
    """One item as plain data."""
    return {
        "id": item.id,
        "type": item.type,
        "role": item.role,
        "status": item.status,
        "content": [_part_to_dict(p) for p in item.content],
        "call_id": item.call_id,
        "name": item.name,
        "arguments": None if item.arguments is None else item.arguments.value,
        "output": item.output,
    }


def _response_to_dict(response: ResponseState) -> dict[str, Any]:
    return {
        "id": response.id,
        "status": response.status,
        "status_details": _plain(response.status_details),
        "output_item_ids": list(response.output_item_ids),
        "usage": _plain(response.usage),
        "conversation_id": response.conversation_id,
    }


def snapshot_to_dict(s: Snapshot) -> dict[str, Any]:
    """The whole snapshot as plain data."""
    buffer = s.input_audio_buffer
    return {
        "session": _plain(s.session),
        "conversation_id": s.conversation_id,
        "items": [item_to_dict(item) for item in s.items],
        "responses": [_response_to_dict(r) for r in s.responses],
        "input_audio_buffer": {
            "speech_active": buffer.speech_active,
            "speech_item_id": buffer.speech_item_id,
            "audio_start_ms": buffer.audio_start_ms,
            "audio_end_ms": buffer.audio_end_ms,
            "committed_item_ids": list(buffer.committed_item_ids),
        },
        "rate_limits": [_plain(r) for r in s.rate_limits],
        "errors": [_plain(record.error) for record in s.errors],
        "protocol_errors": [
            {
                "message": e.message,
                "code": e.code,
                "event_id": e.event_id,
                "event_type": e.event_type,
            }
            for e in s.protocol_errors
        ],
        "anomalies": [_plain(a) for a in s.anomalies],
        "pending_calls": dict(s.pending_calls),
        "unknown_events": s.unknown_events,
    }


def _quote(text: str, limit: int = 200) -> str:
    text = text.strip().replace("\n", " ")
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _describe_part(part: PartState) -> str:
    if part.type in ("text", "input_text"):
        return _quote(part.text.value if part.text is not None else "")
    if part.type == "item_reference":
        return f"-> {part.reference_id}"
    bits = []
    if part.audio_ms:
        bits.append(f"{part.audio_ms / 1000:.2f} s audio")
    if part.truncated_at_ms is not None:
        bits.append(f"truncated at {part.truncated_at_ms / 1000:.2f} s")
    if part.transcription_error is not None:
        bits.append(f"transcription failed: {part.transcription_error.message}")
    label = f"({', '.join(bits)}) " if bits else ""
    if part.truncated_at_ms is not None and part.generated_transcript is not None:
        return f"{label}said {_quote(part.generated_transcript)}"
    if part.transcript is None:
        return f"{label}(no transcript)"
    return label + _quote(part.transcript.value)


def snapshot_to_text(s: Snapshot) -> str:
    """A readable account of the conversation, for people (``rtcore replay``)."""
    lines: list[str] = []
    session = s.session
    if session is not None:
        lines.append(
            f"session {session.id}  model={msgspec.to_builtins(session.model)}"
            f"  voice={msgspec.to_builtins(session.voice)}"
        )
    if s.conversation_id:
        lines.append(f"conversation {s.conversation_id}")
    lines.append(f"{len(s.order)} items:")
    for item in s.items:
        status = f" [{item.status}]" if item.status not in (None, "completed") else ""
        if item.type == "function_call":
            owed = " (owed an output)" if item.call_id in s.pending_calls else ""
            args = item.arguments.value if item.arguments is not None else ""
            lines.append(f"  tool call {item.name}({_quote(args, 120)}){status}{owed}")
        elif item.type == "function_call_output":
            lines.append(f"  tool output {item.call_id}: {_quote(item.output or '', 120)}")
        else:
            parts = "; ".join(_describe_part(p) for p in item.content) or "(empty)"
            lines.append(f"  {item.role}{status}: {parts}")
    by_status: dict[str, int] = {}
    for response in s.responses:
        key: str = response.status
        if response.status_details is not None and response.status_details.reason:
            key += f"/{msgspec.to_builtins(response.status_details.reason)}"
        by_status[key] = by_status.get(key, 0) + 1
    summary = ", ".join(f"{n} {k}" for k, n in sorted(by_status.items()))
    lines.append(f"{len(s.responses)} responses" + (f": {summary}" if summary else ""))
    lines.append(
        f"{len(s.errors)} errors, {len(s.protocol_errors)} protocol errors, "
        f"{len(s.anomalies)} anomalies, {s.unknown_events} unknown events"
    )
    for record in s.errors:
        lines.append(
            f"  error {record.error.type}/{msgspec.to_builtins(record.error.code)}: {record.error.message}"
        )
    for error in s.protocol_errors:
        lines.append(f"  protocol error ({error.code}): {error.message}")
    for anomaly in s.anomalies:
        lines.append(f"  anomaly {anomaly.kind}: {anomaly.detail}")
    return "\n".join(lines)
