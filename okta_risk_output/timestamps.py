"""Turn the timestamps users have into the one form Okta documents: UTC yyyy-MM-ddTHH:mm:ss.SSSZ.

Intake reads a timestamp or two per line, and the spool reads the normalised text again, so
the common forms are read with arithmetic on the matched digits rather than through
datetime's time zones and strftime: the answers (including which texts are refused, and
why) are datetime's, which tests/unit/test_timestamps.py holds them to.
"""

from __future__ import annotations

import functools
import re
from datetime import date, datetime, timezone
from typing import Any

__all__ = ["epoch_of", "format_utc", "is_normal_utc", "normalise_timestamp"]

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(?:([Zz])|([+-])(\d{2}):?(\d{2}))\Z"
)
_NORMAL = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")
"""The form normalisation writes (ASCII digits only: `\\d` would take other scripts')."""
_EPOCH_TEXT = re.compile(r"\d+(\.\d+)?")
# Epoch values at or above this are milliseconds: 1e11 s is the year 5138, 1e11 ms is 1973.
_MILLIS_THRESHOLD = 1e11

_EPOCH_DAY = date(1970, 1, 1).toordinal()
# datetime's range, in UTC seconds from the epoch: a moment outside it has no datetime, and
# converting one to UTC raises OverflowError.
_FIRST_SECOND = (date.min.toordinal() - _EPOCH_DAY) * 86400
_LAST_SECOND = (date.max.toordinal() - _EPOCH_DAY) * 86400 + 86399
_DAY = 86400
_MINUTES_IN_A_DAY = 1440


def format_utc(epoch_seconds: float) -> str:
    """Epoch seconds -> '2026-11-27T10:15:30.123Z' (milliseconds truncated, never rounded up)."""
    moment = datetime.fromtimestamp(epoch_seconds, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{moment.microsecond // 1000:03d}Z"


def normalise_timestamp(value: Any) -> Any:
    """Best effort: RFC 3339 with any offset, or epoch seconds/milliseconds, to UTC ms Z.

    A value it cannot read is returned unchanged, so that the schema, the one judge of
    validity, reports it with its path.
    """
    if type(value) is str and _NORMAL.fullmatch(value) and value[0] != "0":
        # Already normal: rewriting gives the same text, and an impossible date is returned
        # unchanged anyway. (Years before 1000 are left to strftime, whose %Y may not pad.)
        return value
    try:
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)):
            return _from_epoch(float(value))
        if isinstance(value, str):
            text = value.strip()
            if _EPOCH_TEXT.fullmatch(text):
                return _from_epoch(float(text))
            return _from_rfc3339(text) or value
    except (ValueError, OverflowError, OSError):
        pass
    return value


def _from_epoch(number: float) -> str:
    if abs(number) >= _MILLIS_THRESHOLD:
        number /= 1000.0
    return format_utc(number)


def epoch_of(text: str) -> float | None:
    """Epoch seconds of an RFC 3339 timestamp; None when it is not one."""
    try:
        return _KNOWN[text]  # one lookup, not `in` then []: another thread may clear it between
    except KeyError:
        pass
    if _NORMAL.fullmatch(text):  # what the spool reads: what normalisation wrote
        return _normal_epoch(text)
    try:
        parsed = _parse_rfc3339(text)
    except (ValueError, OverflowError):
        return None
    if parsed is None:
        return None
    seconds, micros = parsed
    return _epoch(seconds, micros)


def is_normal_utc(text: str) -> bool | None:
    """Whether `text`, written in the normal form (yyyy-MM-ddTHH:mm:ss.SSSZ, ASCII digits),
    is a moment: a day that exists and a time of day (no leap second); None when it is not
    in that form at all."""
    try:
        return _KNOWN[text] is not None
    except KeyError:
        pass
    if not _NORMAL.fullmatch(text):
        return None
    return _normal_epoch(text) is not None


# A line's timestamps are read three times: normalised, validated, and spooled. The epochs
# of the normal-form texts met lately are kept (bounded; any answer is the one computing it
# again would give), so that the second and third readings are a lookup.
_KNOWN: dict[str, float | None] = {}
_KNOWN_MAX = 4096


def _remember(text: str, epoch: float | None) -> None:
    if len(_KNOWN) >= _KNOWN_MAX:
        _KNOWN.clear()
    _KNOWN[text] = epoch


def _normal_epoch(text: str) -> float | None:
    """epoch_of a text in the normal form (the caller has matched it)."""
    try:
        seconds = _utc_seconds(text[:4], text[5:7], text[8:10], text[11:13], 0, text[14:16])
        epoch: float | None = _epoch(seconds + _second(text[17:19]), int(text[20:23]) * 1000)
    except (ValueError, OverflowError):
        epoch = None
    _remember(text, epoch)
    return epoch


def _epoch(seconds: int, micros: int) -> float:
    # As datetime.timestamp() computes it: whole microseconds, divided once.
    return (seconds * 1_000_000 + micros) / 1_000_000


def _from_rfc3339(text: str) -> str | None:
    parsed = _parse_rfc3339(text)
    if parsed is None:
        return None
    seconds, micros = parsed
    hour, rest = divmod(seconds, 3600)
    minute, second = divmod(rest, 60)
    millis = micros // 1000
    text = f"{_hour_text(hour)}:{minute:02d}:{second:02d}.{millis:03d}Z"
    if len(text) == 24:  # the normal form (not a year before 1000 as strftime writes it)
        _remember(text, _epoch(seconds, millis * 1000))
    return text


def _parse_rfc3339(text: str) -> tuple[int, int] | None:
    """(UTC seconds since the epoch, microseconds) of `text`; None when it is not RFC 3339.

    Raises ValueError for what datetime refuses (no such day, hour 24, an offset of a day or
    more) and OverflowError for a moment that is outside datetime's range once in UTC.
    """
    match = _RFC3339.match(text)
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    offset = 0
    if not zulu:
        offset = int(off_h) * 60 + int(off_m)
        if offset >= _MINUTES_IN_A_DAY:
            raise ValueError("offset must be less than a day")
        offset = offset if sign == "+" else -offset
    seconds = _utc_seconds(year, month, day, hour, offset, minute) + _second(second)
    if seconds > _LAST_SECOND:
        raise OverflowError("date value out of range")
    return seconds, int((fraction or "0")[:6].ljust(6, "0"))


def _second(text: str) -> int:
    second = int(text)
    if second > 59:
        raise ValueError("second must be in 0..59")
    return second


def _utc_seconds(year: str, month: str, day: str, hour: str, offset: int, minute: str) -> int:
    """UTC seconds since the epoch of the start of a local minute, `offset` minutes east of
    UTC; ValueError for a time that does not exist, OverflowError outside datetime's range
    (the caller checks the end of the range, past the minute's seconds)."""
    m = int(minute)
    if m > 59:
        raise ValueError("minute must be in 0..59")
    seconds = _hour_start(year, month, day, hour, offset) + m * 60
    if seconds < _FIRST_SECOND:
        raise OverflowError("date value out of range")
    return seconds


@functools.lru_cache(maxsize=4096)
def _hour_start(year: str, month: str, day: str, hour: str, offset: int) -> int:
    """UTC seconds since the epoch of a local hour's start, `offset` minutes east of UTC.

    Cached: a stream's timestamps fall in a few hours, and the calendar is the costly part.
    """
    h = int(hour)
    if h > 23:
        raise ValueError("hour must be in 0..23")
    days = date(int(year), int(month), int(day)).toordinal() - _EPOCH_DAY
    return days * _DAY + h * 3600 - offset * 60


@functools.lru_cache(maxsize=4096)
def _hour_text(hours: int) -> str:
    """'yyyy-MM-ddTHH' of the UTC hour `hours` after the epoch."""
    days, hour = divmod(hours, 24)
    day = date.fromordinal(days + _EPOCH_DAY)
    # strftime's %Y, as before, for the years it might not pad to four digits.
    year = f"{day.year:04d}" if day.year >= 1000 else day.strftime("%Y")
    return f"{year}-{day.month:02d}-{day.day:02d}T{hour:02d}"
