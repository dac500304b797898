"""Read server events out of a Node.js ``console.log`` dump.

Node prints objects in JavaScript notation, not JSON: bare keys, strings in
single quotes, double quotes or backticks, long strings cut into pieces joined with ``+``,
and objects nested deeper than two levels elided as ``[Object]``. A dump also
mixes in the app's own log lines. ``events`` returns each top-level object
(one that starts with ``{`` and ends with ``}`` at column 0) as Python data,
with every elided object as ``ELIDED``; anything it cannot read raises
``ValueError`` with the line, so a dump is never misread silently.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["ELIDED", "events"]


class _Elided:
    def __repr__(self) -> str:
        return "ELIDED"


ELIDED: Any = _Elided()
"""Stands for ``[Object]``: a value the dump did not print."""

_TOKEN = re.compile(
    r"""
    \s*(?:
      (?P<elided>\[Object\]|\[Array\])
    | (?P<punct>[{}\[\],:+])
    | '(?P<single>(?:[^'\\]|\\.)*)'
    | "(?P<double>(?:[^"\\]|\\.)*)"
    | `(?P<backtick>(?:[^`\\$]|\\.)*)`
    | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
    | (?P<word>[A-Za-z_$][A-Za-z0-9_$]*)
    )""",
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "'": "'", "`": "`", '"': '"', "\\": "\\", "0": "\0"}
_WORDS: dict[str, Any] = {"null": None, "true": True, "false": False, "undefined": None}


def _unescape(text: str) -> str:
    def one(m: re.Match[str]) -> str:
        code = m.group(1)
        if code in _ESCAPES:
            return _ESCAPES[code]
        if code.startswith("u"):
            return chr(int(code[1:], 16))
        raise ValueError(f"unknown escape \\{code}")

    return re.sub(r"\\(u[0-9a-fA-F]{4}|.)", one, text)


class _Reader:
    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, Any]] = []
        pos = 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if m is None:
                if text[pos:].strip() == "":
                    break
                raise ValueError(f"cannot read {text[pos : pos + 40]!r}")
            kind = m.lastgroup
            assert kind is not None
            value = m.group(kind)
            if kind in ("single", "double", "backtick"):
                kind, value = "string", _unescape(value)
            self.tokens.append((kind, value))
            pos = m.end()
        self.at = 0

    def next(self) -> tuple[str, Any]:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def expect(self, punct: str) -> None:
        kind, value = self.next()
        if (kind, value) != ("punct", punct):
            raise ValueError(f"expected {punct!r}, got {value!r}")

    def peek(self) -> tuple[str, Any]:
        return self.tokens[self.at]

    def value(self) -> Any:
        kind, value = self.next()
        if kind == "string":
            while self.at < len(self.tokens) and self.peek() == ("punct", "+"):
                self.next()
                more_kind, more = self.next()
                if more_kind != "string":
                    raise ValueError("'+' joins strings only")
                value += more
            return value
        if kind == "number":
            return float(value) if any(c in value for c in ".eE") else int(value)
        if kind == "word" and value in _WORDS:
            return _WORDS[value]
        if kind == "elided":
            return ELIDED
        if (kind, value) == ("punct", "{"):
            return self.members()
        if (kind, value) == ("punct", "["):
            return self.items()
        raise ValueError(f"unexpected {value!r}")

    def members(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        while self.peek() != ("punct", "}"):
            kind, key = self.next()
            if kind not in ("word", "string"):
                raise ValueError(f"expected a key, got {key!r}")
            self.expect(":")
            out[key] = self.value()
            if self.peek() == ("punct", ","):
                self.next()
        self.next()
        return out

    def items(self) -> list[Any]:
        out: list[Any] = []
        while self.peek() != ("punct", "]"):
            out.append(self.value())
            if self.peek() == ("punct", ","):
                self.next()
        self.next()
        return out


def events(dump: str) -> list[dict[str, Any]]:
    """Every top-level object printed in ``dump``, in order."""
    found: list[dict[str, Any]] = []
    block: list[str] | None = None
    for number, line in enumerate(dump.splitlines(), 1):
        if block is None:
            if line == "{":
                block = [line]
            continue
        block.append(line)
        if line == "}":
            reader = _Reader("\n".join(block))
            try:
                value = reader.value()
            except (ValueError, IndexError) as exc:
                raise ValueError(f"object ending at line {number}: {exc}") from None
            if reader.at != len(reader.tokens):
                raise ValueError(f"object ending at line {number}: trailing text")
            found.append(value)
            block = None
    if block is not None:
        raise ValueError("the dump ends inside an object")
    return found
