"""Fast paths for the messages that are mostly one base64 string: audio.

``shell_decoder`` reads an audio message by cutting its base64 string out:
msgspec decodes the rest (the *shell*), pybase64's SIMD decoder the audio. The
codec uses it for large audio messages in both directions (a client's
``response.output_audio.delta`` / ``response.audio.delta``, a server's large
``input_audio_buffer.append``). ``lean_appends`` puts a leaner path in front of
the client events' full decode for a server's one hot message, the 20 ms
append, and uses the shell for the layouts it does not recognise outright.

The rule both keep: a fast path answers a message only with the event the full
decode would give; everything else - and every error - is the full decode's
(tests/test_append_lean_decode.py holds the two to the same events and errors).
"""

from __future__ import annotations

import binascii
from collections.abc import Callable
from operator import attrgetter
from typing import Any

import msgspec
import pybase64
from msgspec.structs import force_setattr

from .client import InputAudioBufferAppend

__all__ = ["lean_appends", "shell_decoder"]


def shell_decoder(
    decoder: msgspec.json.Decoder[Any],
    classes: tuple[type[Any], ...],
    field: str,
    marker_within: int,
) -> Callable[[bytes | str], Any]:
    """``decode(raw)``: the event of one of ``classes`` whose base64 ``field`` holds the audio,
    or ``None`` when the full decode must decide.

    The field's key must start within ``marker_within`` bytes (its envelope is a type and
    a few ids: looking further would cost every large message that is not audio a scan of
    its whole length), written ``"field":"`` or ``"field": "``. ``None`` unless the string
    is valid base64, no escape (a key may be spelled with one) and no second key of that
    name follows it (JSON's last value would win), the shell decodes to one of ``classes``,
    and has that field empty (else the key was found inside some other string). These
    classes hold no free-form JSON (the codec checks), so the shell's nesting is bounded
    by their schema. A closure over its constants: it runs once per audio message.
    """
    key = f'"{field}"'.encode()
    compact, spaced = key + b':"', key + b': "'
    compact_size, spaced_size = len(compact), len(spaced)
    b64decode = pybase64.b64decode
    decode_shell = decoder.decode
    read_field = attrgetter(field)

    def decode(raw: bytes | str) -> Any:
        if type(raw) is not bytes:
            try:
                raw = raw.encode()  # type: ignore[union-attr]
            except (UnicodeError, AttributeError):
                # Lone surrogates, or a bytearray / memoryview: the full decode.
                return None
        at = raw.find(compact, 0, marker_within)
        if at >= 0:
            at += compact_size
        else:
            at = raw.find(spaced, 0, marker_within)
            if at < 0:
                return None
            at += spaced_size
        end = raw.find(b'"', at)
        if end < 0:
            return None
        # JSON's last value wins, so only what follows the string can hold another value for
        # the key: written plainly, or spelled with an escape. What precedes it cannot (the
        # first plain key is this one; an escaped one before it is overridden), and these
        # classes have no object-valued fields (an unknown one fails the typed decode), so
        # no key is nested. Audio comes last in what servers and clients write: the tail is
        # then ``"}`` and there is nothing to look through.
        if len(raw) - end > 2 and (raw.find(b"\\", end) >= 0 or raw.find(key, end) >= 0):
            return None
        shell = raw[:at] + raw[end:]
        try:
            event = decode_shell(shell)
            if type(event) not in classes or read_field(event) != b"":
                return None
            # Built a moment ago and held by nobody else: filled in place.
            force_setattr(event, field, b64decode(raw[at:end], None, True))
        except (
            binascii.Error,
            ValueError,
            msgspec.ValidationError,
            msgspec.DecodeError,
            RecursionError,
        ):
            return None
        return event

    return decode


def lean_appends(
    full: Callable[..., Any], decoder: msgspec.json.Decoder[Any], marker_within: int
) -> Callable[..., Any]:
    """The client events' ``decode`` with a lean path in front for ``input_audio_buffer.append``.

    A server's one hot message is a 20 ms append: about 1.3 KB, nearly all of it one base64
    string, which msgspec decodes a byte at a time. The lean path cuts the string out and
    decodes it with the SIMD decoder. An append with nothing but its type and audio, written
    compactly or as ``json.dumps`` writes it, is recognised by its first and last bytes: once
    the string between them is valid base64 (no quote, backslash or control character can be
    in it), the message is exactly that event. Any other layout of ``"audio"`` is read as the
    audio fast path reads large messages, from any size: msgspec decodes the rest of the
    message (the *shell*). The lean path gives an event only when it is certain to be what
    ``full`` gives; anything else - another type, a shell with an escape (a key may be spelled
    with one) or a second ``"audio"``, bad base64, unknown fields, a message longer than
    ``max_values`` (which ``full`` measures) - goes to ``full``, with the same events and
    errors as ever.
    """
    shell = shell_decoder(decoder, (InputAudioBufferAppend,), "audio", marker_within)
    compact = b'{"type":"input_audio_buffer.append","audio":"'
    spaced = b'{"type": "input_audio_buffer.append", "audio": "'
    compact_end, spaced_end = len(compact), len(spaced)
    b64decode = pybase64.b64decode
    append = InputAudioBufferAppend

    def decode(data: bytes | str, strict: bool = False, max_values: int | None = None) -> Any:
        kind = type(data)
        if kind is bytes:
            raw: Any = data
        elif kind is str:
            try:
                raw = data.encode()  # type: ignore[union-attr]
            except UnicodeError:  # lone surrogates: ``full`` says so
                return full(data, strict, max_values)
        else:
            return full(data, strict, max_values)
        if max_values is not None and len(raw) > max_values:
            return full(data, strict, max_values)
        if raw[-2:] == b'"}':
            at = (
                compact_end
                if raw[:compact_end] == compact
                else spaced_end
                if raw[:spaced_end] == spaced
                else 0
            )
            # ``at`` past the quote before the brace: that quote opened the string, which
            # then never closes (``...,"audio":"}``): not an append, whatever the rest says.
            if at and at <= len(raw) - 2:
                try:
                    return append(audio=b64decode(raw[at:-2], None, True))
                except (binascii.Error, ValueError):
                    pass  # say, an event_id after the audio: read below
        event = shell(raw)
        if event is not None:
            return event
        return full(data, strict, max_values)

    return decode
