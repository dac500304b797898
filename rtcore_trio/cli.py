"""The ``rtcore`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rtcore import events as ev

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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="rtcore", description="OpenAI Realtime (beta) protocol engine"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="show the engine at work")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return _codec_demo()
    parser.error(f"unknown command {args.command!r}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
