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
        # GA input_image parts (None elsewhere).
        "image_url": part.image_url,
        "detail": part.detail,
    }


def item_to_dict(item: ItemState) -> dict[str, Any]:
    """One item as plain data (MCP items, GA only, with their own members too)."""
    plain: dict[str, Any] = {
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
    if item.type.startswith("mcp_"):
        plain.update(
            server_label=item.server_label,
            tools=None if item.tools is None else [_plain(t) for t in item.tools],
            approval_request_id=item.approval_request_id,
            approve=item.approve,
            reason=item.reason,
            error=_plain(item.error),
            mcp_status=item.mcp_status,
        )
    return plain


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
        "records_dropped": s.records_dropped,
        "pending_calls": dict(s.pending_calls),
        "pending_approvals": dict(s.pending_approvals),
        "dtmf": [list(tone) for tone in s.dtmf],
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
    if part.type == "input_image":
        detail = f", detail {part.detail}" if part.detail is not None else ""
        return f"(image {_quote(part.image_url or '', 60)}{detail})"
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


def _describe_mcp(item: ItemState, s: Snapshot) -> str:
    """An MCP item (GA) in one line."""
    label = item.server_label
    progress = f" [{item.mcp_status}]" if item.mcp_status is not None else ""
    if item.type == "mcp_list_tools":
        names = ", ".join(t.name for t in item.tools or ())
        return f"mcp tools of {label}: {names or '(none)'}{progress}"
    if item.type == "mcp_call":
        args = item.arguments.value if item.arguments is not None else ""
        if item.error is not None:
            outcome = f" -> error: {_quote(item.error.message, 120)}"
        elif item.output is not None:
            outcome = f" -> {_quote(item.output, 120)}"
        else:
            outcome = ""
        return f"mcp call {label}.{item.name}({_quote(args, 120)}){outcome}{progress}"
    if item.type == "mcp_approval_request":
        owed = " (owed an answer)" if item.id in s.pending_approvals else ""
        return f"mcp approval request {label}.{item.name}{owed}"
    answer = "approved" if item.approve else "denied"
    reason = f": {_quote(item.reason, 120)}" if item.reason else ""
    return f"mcp approval {answer} for {item.approval_request_id}{reason}"


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
        elif item.type != "message":
            lines.append(f"  {_describe_mcp(item, s)}{status}")
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
        + (f" ({s.records_dropped} more records not kept)" if s.records_dropped else "")
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
