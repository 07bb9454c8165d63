"""Turn the timestamps users have into the one form Okta documents: UTC yyyy-MM-ddTHH:mm:ss.SSSZ."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

__all__ = ["epoch_of", "format_utc", "normalise_timestamp"]

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(?:([Zz])|([+-])(\d{2}):?(\d{2}))\Z"
)
# Epoch values at or above this are milliseconds: 1e11 s is the year 5138, 1e11 ms is 1973.
_MILLIS_THRESHOLD = 1e11


def format_utc(epoch_seconds: float) -> str:
    """Epoch seconds -> '2026-11-27T10:15:30.123Z' (milliseconds truncated, never rounded up)."""
    moment = datetime.fromtimestamp(epoch_seconds, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{moment.microsecond // 1000:03d}Z"


def normalise_timestamp(value: Any) -> Any:
    """Best effort: RFC 3339 with any offset, or epoch seconds/milliseconds, to UTC ms Z.

    A value it cannot read is returned unchanged, so that the schema, the one judge of
    validity, reports it with its path.
    """
    try:
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)):
            return _from_epoch(float(value))
        if isinstance(value, str):
            text = value.strip()
            if re.fullmatch(r"\d+(\.\d+)?", text):
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
        moment = _parse_rfc3339(text)
    except (ValueError, OverflowError):
        return None
    return None if moment is None else moment.timestamp()


def _from_rfc3339(text: str) -> str | None:
    moment = _parse_rfc3339(text)
    if moment is None:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{moment.microsecond // 1000:03d}Z"


def _parse_rfc3339(text: str) -> datetime | None:
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
