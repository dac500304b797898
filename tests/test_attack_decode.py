"""No message costs the server more than a bounded number of decoded values (issue 22, item 4).

A 16 MiB message of 480 000 empty content parts (or millions of empty arrays in a JSON
Schema) took the decoder 0.3-3 s to build, on the event loop, before any bound on parts or
tools could refuse it. The server now counts a message's structure - its objects and arrays
and the commas between their elements, outside strings - before decoding it
(``ServerConnection(max_values=...)``, ``rtcore serve --max-message-values``), in a pass or
two over its bytes, and refuses one over the bound with ``message_above_max_values``. A bad
message's error is told from the decoder's own (no walk over it in Python), so a large bad
message costs about what a good one does. Times are compared within one test, as ratios.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from rtcore import events as ev
from rtcore.events.explain import _check_nesting, _check_values
from rtcore.wire import DEFAULT_MAX_MESSAGE_VALUES

LIMIT = 100


def _values(message: str | bytes, limit: int = LIMIT) -> bool:
    """Whether the message is within ``limit`` values."""
    try:
        _check_values(message, limit)
    except ev.DecodeError as err:
        assert err.code == "message_above_max_values"
        return False
    return True


def _array(n: int, element: str = "0") -> str:
    return "[" + ",".join([element] * n) + "]"


def test_the_count_is_the_objects_and_arrays_and_the_commas_between_their_elements() -> None:
    # [0,...] of n elements: one array and n - 1 commas.
    assert _values(_array(LIMIT))
    assert not _values(_array(LIMIT + 1))
    assert _values(_array(LIMIT // 2, "[]"))  # 50 arrays, 49 commas, the outer one
    assert not _values(_array(LIMIT // 2 + 1, "[]"))
    members = ",".join(f'"k{i}":{{}}' for i in range(50))
    assert _values("{" + members + "}")  # 51 objects, 49 commas
    assert not _values("{" + members + ',"x":1}')


@pytest.mark.parametrize(
    "text",
    [
        "a,b,[c],{d}," * 200,  # marks inside a string do not count
        'quote \\" inside, ' * 200,  # nor behind an escaped quote
        "a backslash \\\\" + ",[{" * 300,  # an escaped backslash does not escape what follows
    ],
)
def test_what_strings_hold_does_not_count(text: str) -> None:
    message = json.dumps({"type": "session.update", "session": {"instructions": text}})
    assert json.loads(message)["session"]["instructions"] == text
    assert _values(message)
    assert _values(message.encode())


def test_a_closing_quote_after_an_escaped_backslash_ends_the_string() -> None:
    # "x\\" is a string that ends with a backslash; what follows is structure again.
    message = '["x\\\\",' + ",".join(["0"] * LIMIT) + "]"
    assert json.loads(message)[0] == "x\\"
    assert not _values(message)


def test_more_strings_than_a_structure_allows_are_over_the_bound_by_their_quotes() -> None:
    # Each string is a value: an array of LIMIT + 1 strings is over, however it is counted.
    assert not _values(json.dumps(["a"] * (LIMIT + 1)))
    assert _values(json.dumps({f"k{i}": "v" for i in range(LIMIT // 2)}))


def test_the_nesting_check_reads_the_structure_the_values_check_cut_out() -> None:
    deep = "[" * 65 + "]" * 65
    text = json.dumps({"a": "[[[[" * 100 + ",,," * 100, "b": json.loads(deep)})
    brackets, outside = _check_values(text, 100)  # over roughly, within exactly
    assert outside is not None and brackets == 1 + 400 + 65
    with pytest.raises(ev.DecodeError, match="nested deeper"):
        _check_nesting(text, outside)
    shallow = text.replace(deep, "[" * 60 + "]" * 60)
    _check_nesting(shallow, _check_values(shallow, 100)[1])


def _parts(n: int, extra: str = "") -> bytes:
    part = '{"type":"input_text","text":""}'
    head = '{"type":"conversation.item.create",' + extra
    return (
        head + '"item":{"type":"message","role":"user","content":' + _array(n, part) + "}}"
    ).encode()


def _best(run: Callable[[], Any], times: int = 3) -> float:
    best = float("inf")
    for _ in range(times):
        began = time.perf_counter()
        try:
            run()
        except ev.DecodeError:
            pass
        best = min(best, time.perf_counter() - began)
    return best


def _decode(message: bytes, max_values: int | None = DEFAULT_MAX_MESSAGE_VALUES) -> Any:
    return ev.decode_client_event(message, dialect="ga", strict=True, max_values=max_values)


def test_480_000_empty_parts_are_refused_before_a_single_one_is_built() -> None:
    message = _parts(480_000)  # 14.6 MiB
    with pytest.raises(ev.DecodeError) as info:
        _decode(message)
    assert info.value.code == "message_above_max_values"
    assert str(DEFAULT_MAX_MESSAGE_VALUES) in str(info.value)
    refused, built = _best(lambda: _decode(message)), _best(lambda: _decode(message, None), 1)
    assert refused < built / 4, (refused, built)


_SHAPES = {
    "empty arrays in a schema": (
        '{"type":"session.update","session":{"type":"realtime","tools":[{"type":"function",'
        '"name":"f","parameters":{"enum":',
        "[]",
        4_000_000,
        "}}]}}",
    ),
    "allowed_tools": (
        '{"type":"session.update","session":{"type":"realtime","tools":[{"type":"mcp",'
        '"server_label":"s","server_url":"https://x","allowed_tools":',
        '"a"',
        3_000_000,
        "}]}}",
    ),
}


@pytest.mark.parametrize("shape", list(_SHAPES))
def test_other_shapes_of_millions_of_values_are_refused_as_cheaply(shape: str) -> None:
    head, element, n, tail = _SHAPES[shape]
    message = (head + _array(n, element) + tail).encode()
    with pytest.raises(ev.DecodeError, match="JSON values"):
        _decode(message)
    refused, built = _best(lambda: _decode(message)), _best(lambda: _decode(message, None), 1)
    assert refused < built / 2, (refused, built)


def test_a_large_bad_message_costs_about_what_a_good_one_does() -> None:
    # Within the bound; the unknown field comes last, after every part has been read.
    good = _parts(20_000)
    bad = good[:-3] + b',{"type":"input_text","text":"","zz":1}]}}'
    with pytest.raises(ev.DecodeError) as info:
        _decode(bad)
    assert (info.value.code, info.value.path) == ("unknown_parameter", "item.content[20000].zz")
    assert info.value.event_type == "conversation.item.create"
    assert _best(lambda: _decode(bad)) < 4 * _best(lambda: _decode(good)) + 0.005


def test_a_client_decodes_what_its_server_sends_whatever_its_size() -> None:
    # The bound is the server's: the client role has none (a session with many tools
    # echoes them all).
    message = _parts(30_000)
    assert ev.decode_client_event(message, dialect="ga").type == "conversation.item.create"
    with pytest.raises(ev.DecodeError):
        ev.decode_client_event(message, dialect="ga", max_values=10_000)
