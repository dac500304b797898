"""The ``rtcore`` command line: ``replay`` a recorded trace, ``demo`` the engine."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from rtcore import events as ev
from rtcore.state import snapshot_to_text
from rtcore.trace import read_trace, replay

_DEMO_MESSAGES = [
    b'{"type":"response.created","event_id":"event_1","response":{"object":"realtime.response",'
    b'"id":"resp_1","status":"in_progress","status_details":null,"output":[],"usage":null}}',
    b'{"type":"response.text.delta","event_id":"event_2","response_id":"resp_1","item_id":"item_1",'
    b'"output_index":0,"content_index":0,"delta":"Hello"}',
    b'{"type":"response.audio.delta","event_id":"event_3","response_id":"resp_1","item_id":"item_1",'
    b'"output_index":0,"content_index":0,"delta":"AAABAAIA"}',
    b'{"type":"mcp_list_tools.completed","event_id":"event_4","item_id":"mcp_1"}',
    b'{"type":"session.update","session":{"voice":"robot"}}',
]


def _codec_demo() -> int:
    print("Decoding server messages into typed events:")
    for data in _DEMO_MESSAGES:
        try:
            event = ev.decode_server_event(data)
        except ev.DecodeError as err:
            print(f"  DecodeError: {err}")
            continue
        print(f"  {event!r}")
    print("\nEncoding client events:")
    for client_event in (
        ev.SessionUpdate(session=ev.SessionConfig(turn_detection=None, voice="ash")),
        ev.InputAudioBufferAppend(audio=b"\x00\x00\x01\x00"),
        ev.ResponseCreate(response=ev.ResponseParams(modalities=("text",))),
    ):
        print(f"  {ev.encode_event(client_event).decode()}")
    return 0


def _replay(path: Path, as_json: bool) -> int:
    try:
        with path.open("rb") as lines:
            client = replay(read_trace(lines))
    except OSError as err:
        print(f"rtcore replay: {err}", file=sys.stderr)
        return 2
    snapshot = client.state
    if as_json:
        json.dump(snapshot.to_dict(), sys.stdout, indent=2, ensure_ascii=False)
        print()
    else:
        print(snapshot_to_text(snapshot))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="rtcore", description="OpenAI Realtime (beta) protocol engine"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="show the engine at work")
    replay_cmd = commands.add_parser(
        "replay", help="feed a recorded JSONL trace to the client engine and print the conversation"
    )
    replay_cmd.add_argument("file", type=Path, help="trace file, one event per line")
    replay_cmd.add_argument("--json", action="store_true", help="print the snapshot as JSON")
    args = parser.parse_args(argv)
    if args.command == "replay":
        return _replay(args.file, args.json)
    return _codec_demo()


if __name__ == "__main__":
    sys.exit(main())
