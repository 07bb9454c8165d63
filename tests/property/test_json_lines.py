"""msgspec, intake's fast JSON reader, changes no verdict: every line reads to the same record
(the same values, types and key order) or the same rejection as with the json module alone.

Where the two differ, the json module decides: each such case has its own test below.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from okta_risk_output.errors import RecordRejected
from okta_risk_output.intake import records


def read(data: bytes, fast: bool, monkeypatch: pytest.MonkeyPatch) -> Any:
    """What records.py makes of one line's bytes: ("record", repr) or ("rejected", kind,
    errors), with the fast reader on or off."""
    with monkeypatch.context() as patch:
        if fast:
            patch.setattr(records, "EAGER_LINES", -1)
        else:
            patch.setattr(records, "_decode", None)
            patch.setattr(records, "EAGER_LINES", 1 << 62)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return ("not_utf8",)  # records.py rejects these before reading JSON
        try:
            record = records._parse_object(text, data)
        except RecordRejected as rejected:
            return ("rejected", rejected.kind, [e.as_dict() for e in rejected.errors])
        return ("record", _typed(record))


def _typed(value: Any) -> Any:
    """The value with every type and key order visible (1 and 1.0 and True compare equal)."""
    if isinstance(value, dict):
        return ("dict", [(k, _typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [_typed(v) for v in value])
    if isinstance(value, float):
        return ("float", "nan" if math.isnan(value) else value.hex())
    return (type(value).__name__, value)


def same_verdict(data: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    assert read(data, True, monkeypatch) == read(data, False, monkeypatch), data[:200]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b'{"a":NaN,"b":-Infinity,"c":Infinity}', id="NaN and Infinity"),
        pytest.param(b'{"a":1e400,"b":-1e400,"c":1e-400}', id="floats past double"),
        pytest.param(b'{"a":123456789012345678901234567890}', id="big int"),
        pytest.param(b'{"a":-9223372036854775809,"b":18446744073709551616}', id="past 64 bits"),
        pytest.param(b'{"a":' + b"7" * 4300 + b"}", id="4300 digits"),
        pytest.param(b'{"a":' + b"7" * 4301 + b"}", id="more digits than Python converts"),
        pytest.param(b'{"a":1,"b":2,"a":3}', id="duplicate keys"),
        pytest.param(b'{"a":"\\ud800"}', id="lone high surrogate"),
        pytest.param(b'{"a":"\\udc00x"}', id="lone low surrogate"),
        pytest.param(b'{"a":"\\ud83d\\ude00"}', id="surrogate pair"),
        pytest.param(b'{"\\ud800":1}', id="lone surrogate in a key"),
        pytest.param(b'{"a":"\xff"}', id="invalid UTF-8"),
        pytest.param(b'{"a":"\xed\xa0\x80"}', id="UTF-8 of a surrogate"),
        pytest.param(b'\xef\xbb\xbf{"a":1}', id="byte-order mark"),
        pytest.param(b'{"a":"x\x01y"}', id="raw control character"),
        pytest.param(b"[" * 33 + b"]" * 33, id="deep array, not an object"),
        pytest.param(b'{"a":' + b"[" * 31 + b"]" * 31 + b"}", id="32 levels"),
        pytest.param(b'{"a":' + b"[" * 32 + b"]" * 32 + b"}", id="33 levels"),
        pytest.param(b'{"a":' + b"[" * 2000 + b"]" * 2000 + b"}", id="past msgspec's depth"),
        pytest.param(b'{"a":' + b"{}" * 40 + b"}", id="many brackets, shallow"),
        pytest.param(b'{"a":"' + b"[" * 40 + b'"}', id="brackets in a string"),
        pytest.param(b"[1,2]", id="array"),
        pytest.param(b"17", id="number"),
        pytest.param(b'"x"', id="string"),
        pytest.param(b"null", id="null"),
        pytest.param(b"1.5", id="float"),
        pytest.param(b'{"a":1} x', id="trailing data"),
        pytest.param(b' \t{"a":1}\r ', id="JSON whitespace"),
        pytest.param(b'\x0c{"a":1}', id="form feed"),
        pytest.param(b'\xc2\xa0{"a":1}', id="no-break space"),
        pytest.param(b'{"a":01}', id="leading zero"),
        pytest.param(b'{"a":-0,"b":-0.0,"c":0e0}', id="negative zeros"),
        pytest.param(b'{"a":.5}', id="no integer part"),
        pytest.param(b'{"a":1.}', id="no fraction digits"),
        pytest.param(b"{'a':1}", id="single quotes"),
        pytest.param(b'{"a":1,}', id="trailing comma"),
        pytest.param(b'{"a":"\\u0000\\/\\b"}', id="escapes"),
        pytest.param(b'{"a":"\\x41"}', id="bad escape"),
        pytest.param(b'{"a":tru}', id="bad literal"),
    ],
)
def test_where_the_readers_differ_json_decides(
    data: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    same_verdict(data, monkeypatch)


text = st.text(st.characters(codec="utf-8"), max_size=12)
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=10**18, max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
)
values = st.recursive(
    st.one_of(st.none(), st.booleans(), numbers, text),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=12,
)
# JSON text, then sometimes damaged: a byte replaced, inserted or dropped, or JSON's
# neighbours spliced in (NaN, a surrogate escape, a BOM, a number json reads past double).
splices = st.sampled_from(
    [b"NaN", b"Infinity", b"\\ud800", b"\\udfff", b"\xef\xbb\xbf", b"1e999", b"\xff", b"[", b"{"]
)


@st.composite
def lines(draw: st.DrawFn) -> bytes:
    data = json.dumps(draw(values), ensure_ascii=draw(st.booleans())).encode("utf-8", "replace")
    if draw(st.booleans()):
        data = b'{"k":' + data + b"}"
    damage = draw(st.sampled_from(["none", "replace", "insert", "drop", "splice"]))
    if damage != "none" and data:
        at = draw(st.integers(0, len(data) - 1))
        if damage == "replace":
            data = data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1 :]
        elif damage == "insert":
            data = data[:at] + bytes([draw(st.integers(0, 255))]) + data[at:]
        elif damage == "drop":
            data = data[:at] + data[at + 1 :]
        else:
            data = data[:at] + draw(splices) + data[at:]
    return data


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=lines())
def test_every_line_reads_the_same_with_either_reader(data: bytes) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        same_verdict(data, monkeypatch)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=60))
def test_arbitrary_bytes_read_the_same_with_either_reader(data: bytes) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        same_verdict(data, monkeypatch)
