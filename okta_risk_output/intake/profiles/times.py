"""The `[timestamp]` and `[expires]` sections: where a record's time is, how it is written.

    [timestamp]
    field = ["extension.rt", "extension.end"]     # the first present wins
    format = ["auto", "%b %d %Y %H:%M:%S"]        # tried in order

`auto` reads RFC 3339 with any offset and epoch seconds or milliseconds (numbers or digit
strings), as the plain input path does. `epoch` and `epoch_ms` read only those. Anything with
a `%` is a strptime pattern; without an offset in it, the time is taken as UTC. A value no
format reads is passed on unchanged, so that the schema rejects it with its path, like every
other unreadable value.

    [expires]
    after = "24h"            # expiresAt = now (or the record's timestamp) + 24 h
    from = "now"             # or "timestamp"
    # or: field = "valid_until", format = "auto"
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from okta_risk_output.intake.profiles.paths import FieldPath, parse_path
from okta_risk_output.timestamps import epoch_of, format_utc, is_normal_utc, normalise_timestamp
from okta_risk_output.units import parse_duration

__all__ = ["Expiry", "TimeField", "parse_expiry", "parse_fields", "parse_time_field"]

_NAMED = ("auto", "epoch", "epoch_ms")


@dataclass(frozen=True)
class TimeField:
    paths: tuple[FieldPath, ...]
    formats: tuple[str, ...] = ("auto",)

    def read(self, record: Any) -> tuple[Any, float | None]:
        """(the value to send, its epoch seconds): ('2026-...Z', 1.79e9), (raw, None) when
        unreadable, (None, None) when absent."""
        for path in self.paths:
            value = path.find(record)
            if value is None or value == "":
                continue
            for fmt in self.formats:
                seconds = _parse(value, fmt)
                if seconds is not None:
                    return format_utc(seconds), seconds
            return value, None
        return None, None


@dataclass(frozen=True)
class Expiry:
    after: float | None = None
    base: str = "now"
    field: TimeField | None = None

    def expires_at(self, record: Any, timestamp: float | None, now: float) -> Any:
        """expiresAt for this record, or None for none."""
        if self.field is not None:
            value, _ = self.field.read(record)
            return value
        if self.after is None:
            return None
        start = timestamp if self.base == "timestamp" and timestamp is not None else now
        try:
            return format_utc(start + self.after)
        except (ValueError, OverflowError, OSError):
            return None


def _parse(value: Any, fmt: str) -> float | None:
    try:
        if fmt == "auto":
            text = normalise_timestamp(value)
            return _utc_seconds(text) if isinstance(text, str) else None
        if fmt in ("epoch", "epoch_ms"):
            number = _epoch(value)
            if number is None:
                return None
            seconds = number / 1000.0 if fmt == "epoch_ms" else number
            format_utc(seconds)  # raises for times out of range
            return seconds
        if not isinstance(value, str):
            return None
        moment = datetime.strptime(value.strip(), fmt)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return moment.timestamp()
    except (ValueError, OverflowError, OSError):
        return None


def _utc_seconds(text: str) -> float | None:
    # normalise_timestamp already gave '2026-11-27T10:15:30.123Z'; reading it back keeps one
    # parser for RFC 3339 in the project.
    if not text.endswith("Z"):
        return None
    normal = is_normal_utc(text)
    if normal is not None:  # the form normalising writes: read as strptime reads it, cheaply
        return epoch_of(text) if normal else None
    return (
        datetime.strptime(text[:-1], "%Y-%m-%dT%H:%M:%S.%f")
        .replace(tzinfo=timezone.utc)
        .timestamp()
    )


def _epoch(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if text.replace(".", "", 1).isdigit():
            return float(text)
    return None


def parse_fields(raw: Any, where: str, problems: list[str]) -> tuple[FieldPath, ...]:
    """`"a.b"` or `["a.b", "c"]`: field paths tried in order."""
    items = raw if isinstance(raw, list) else [raw]
    if not items:
        problems.append(f"{where}: expected a field path or a list of them")
        return ()
    paths: list[FieldPath] = []
    for i, item in enumerate(items):
        try:
            paths.append(parse_path(item))
        except ValueError as problem:
            problems.append(f"{where}{f'[{i}]' if isinstance(raw, list) else ''}: {problem}")
    return tuple(paths)


def parse_time_field(
    raw: Any, where: str, problems: list[str], extra: tuple[str, ...] = ()
) -> TimeField | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a table with 'field' and optional 'format'")
        return None
    unknown = sorted(set(raw) - {"field", "format", *extra})
    if unknown:
        problems.append(f"{where}: unknown key {', '.join(map(repr, unknown))}")
    if "field" not in raw:
        problems.append(f"{where}: 'field' is required")
        return None
    paths = parse_fields(raw["field"], f"{where}.field", problems)
    formats = raw.get("format", "auto")
    formats = formats if isinstance(formats, list) else [formats]
    good = True
    for i, fmt in enumerate(formats):
        if not isinstance(fmt, str) or (fmt not in _NAMED and "%" not in fmt):
            problems.append(
                f"{where}.format[{i}]: {fmt!r} is not a format; use auto, epoch, epoch_ms "
                "or a strptime pattern like '%b %d %Y %H:%M:%S'"
            )
            good = False
    if not formats:
        problems.append(f"{where}.format: give at least one format")
        good = False
    return TimeField(paths, tuple(formats)) if paths and good else None


def parse_expiry(raw: Any, where: str, problems: list[str]) -> Expiry | None:
    if not isinstance(raw, dict):
        problems.append(f"{where}: expected a table with 'after' (and 'from') or 'field'")
        return None
    if "field" in raw:
        if set(raw) & {"after", "from"}:
            problems.append(f"{where}: give either 'field' or 'after', not both")
        field = parse_time_field(raw, where, problems)
        return Expiry(field=field) if field else None
    unknown = sorted(set(raw) - {"after", "from"})
    if unknown:
        problems.append(f"{where}: unknown key {', '.join(map(repr, unknown))}")
    base = raw.get("from", "now")
    if base not in ("now", "timestamp"):
        problems.append(f"{where}.from: {base!r} must be 'now' or 'timestamp'")
    after = raw.get("after")
    if not isinstance(after, str):
        problems.append(f"{where}.after: expected a duration like '24h' or '30m'")
        return None
    try:
        seconds = parse_duration(after)
    except ValueError as problem:
        problems.append(f"{where}.after: {problem}")
        return None
    if seconds <= 0:
        problems.append(f"{where}.after: must be longer than 0 s")
        return None
    return Expiry(after=seconds, base=str(base))
