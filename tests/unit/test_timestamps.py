"""timestamps.py reads with arithmetic what it read through datetime before: the same text out,
the same epoch, the same refusals. The datetime version is kept here as the reference."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rfc3339_validator import validate_rfc3339  # type: ignore[import-untyped]

from okta_risk_output.intake.profiles import times
from okta_risk_output.timestamps import epoch_of, is_normal_utc, normalise_timestamp

# -- the reference: timestamps.py as it was before issue 13 ----------------------------------

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(?:([Zz])|([+-])(\d{2}):?(\d{2}))\Z"
)


def _format_utc(epoch_seconds: float) -> str:
    moment = datetime.fromtimestamp(epoch_seconds, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{moment.microsecond // 1000:03d}Z"


def reference_normalise(value: Any) -> Any:
    try:
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)):
            return _reference_epoch(float(value))
        if isinstance(value, str):
            text = value.strip()
            if re.fullmatch(r"\d+(\.\d+)?", text):
                return _reference_epoch(float(text))
            moment = _reference_parse(text)
            if moment is None:
                return value
            return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{moment.microsecond // 1000:03d}Z"
    except (ValueError, OverflowError, OSError):
        pass
    return value


def _reference_epoch(number: float) -> str:
    if abs(number) >= 1e11:
        number /= 1000.0
    return _format_utc(number)


def reference_epoch_of(text: str) -> float | None:
    try:
        moment = _reference_parse(text)
    except (ValueError, OverflowError):
        return None
    return None if moment is None else moment.timestamp()


def _reference_parse(text: str) -> datetime | None:
    match = _RFC3339.match(text)
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    offset = timedelta(0)
    if not zulu:
        offset = timedelta(hours=int(off_h), minutes=int(off_m)) * (1 if sign == "+" else -1)
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    return datetime(
        int(year),
        int(month),
        int(day),
        int(hour),
        int(minute),
        int(second),
        micros,
        tzinfo=timezone(offset),
    ).astimezone(timezone.utc)


# -- generated timestamps, most of them nearly right --------------------------------------------


def digits(n: int) -> st.SearchStrategy[str]:
    ascii_digits = st.text("0123456789", min_size=n, max_size=n)
    return st.one_of(
        ascii_digits, ascii_digits, ascii_digits, st.text("0123456789٣", min_size=n, max_size=n)
    )


def field(low: int, high: int, width: int = 2) -> st.SearchStrategy[str]:
    return st.one_of(st.integers(low, high).map(lambda v: f"{v:0{width}d}"), digits(width))


stamps = st.builds(
    lambda y, mo, d, sep, h, mi, s, frac, zone, pad: (
        f"{pad}{y}-{mo}-{d}{sep}{h}:{mi}:{s}{frac}{zone}{pad}"
    ),
    st.one_of(field(1, 9999, 4), st.sampled_from(["0001", "0999", "1000", "9999", "2024", "2100"])),
    field(0, 13),
    field(0, 32),
    st.sampled_from(["T", "t", " ", "x"]),
    field(0, 25),
    field(0, 61),
    field(0, 61),
    st.one_of(st.just(""), st.text("0123456789", min_size=0, max_size=9).map(lambda f: "." + f)),
    st.one_of(
        st.sampled_from(["Z", "z", "", "+00:00", "-00:00", "+14:00", "+23:59", "+24:00", "-23:99"]),
        st.builds(
            lambda sign, h, m, colon: f"{sign}{h}{colon}{m}",
            st.sampled_from("+-"),
            field(0, 30),
            field(0, 99),
            st.sampled_from([":", ""]),
        ),
    ),
    st.sampled_from(["", "", "", " ", "\n"]),
)
values = st.one_of(
    stamps,
    st.text(max_size=30),
    st.integers(-(10**15), 10**15),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e14, max_value=1e14),
    st.booleans(),
    st.none(),
    st.text("0123456789.", max_size=16),
)


@settings(max_examples=2000, deadline=None)
@given(value=values)
def test_normalising_gives_what_datetime_gave(value: Any) -> None:
    assert normalise_timestamp(value) == reference_normalise(value)


@settings(max_examples=2000, deadline=None)
@given(text=st.one_of(stamps, stamps.map(reference_normalise).filter(lambda v: isinstance(v, str))))
def test_epochs_are_datetime_s_to_the_last_bit(text: str) -> None:
    assert epoch_of(text) == reference_epoch_of(text)


@settings(max_examples=2000, deadline=None)
@given(text=stamps.map(lambda s: reference_normalise(s) if isinstance(s, str) else s))
def test_the_normal_form_check_is_the_format_check_s(text: str) -> None:
    normal = is_normal_utc(text)
    if normal is not None:
        assert normal == bool(validate_rfc3339(text.upper()))


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-27T10:15:30.123Z",
        "2024-02-29T00:00:00.000Z",
        "2026-02-29T00:00:00.000Z",
        "0000-01-01T00:00:00.000Z",
        "0001-01-01T00:00:00.000Z",
        "0999-12-31T23:59:59.999Z",
        "9999-12-31T23:59:59.999Z",
        "2026-11-27T24:00:00.000Z",
        "2026-11-27T23:60:00.000Z",
        "2026-11-27T23:59:60.000Z",
        "2026-00-27T10:00:00.000Z",
        "0001-01-01T00:30:00+01:00",
        "0001-01-01T00:59:59.999+01:00",
        "9999-12-31T23:30:00-01:00",
        "9999-12-31T22:59:59.999999-01:00",
        "2026-11-27T10:00:00+01:75",
        "2026-11-27T10:00:00+23:99",
        "2026-11-27T10:00:00-24:00",
        "1000-01-01T00:30:00+01:00",
        "٢٠٢٦-11-27T10:15:30Z",
        "2026-11-27T10:15:30.000Z\n",
    ],
)
def test_edges_of_the_calendar_and_of_datetime_s_range(text: str) -> None:
    assert normalise_timestamp(text) == reference_normalise(text)
    assert epoch_of(text) == reference_epoch_of(text)
    normal = is_normal_utc(text)
    assert normal is None or normal == bool(validate_rfc3339(text.upper()))


def _strptime_seconds(text: str) -> float | None:
    """profiles/times.py's reading of a normalised timestamp, before issue 13."""
    try:
        moment = datetime.strptime(text[:-1], "%Y-%m-%dT%H:%M:%S.%f")
    except ValueError:
        return None
    return moment.replace(tzinfo=timezone.utc).timestamp()


@settings(max_examples=2000, deadline=None)
@given(text=st.one_of(stamps, stamps.map(reference_normalise).filter(lambda v: isinstance(v, str))))
def test_a_profile_reads_a_normalised_timestamp_as_strptime_did(text: str) -> None:
    if text.endswith("Z"):
        try:
            seconds = times._utc_seconds(text)
        except ValueError:  # times._parse takes this for "unreadable", as it takes None
            seconds = None
        assert seconds == _strptime_seconds(text)
