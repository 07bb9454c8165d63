"""The quantities users type (durations, rates, sizes), parsed; and sizes shown back."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Rate", "format_size", "parse_duration", "parse_rate", "parse_size"]

_UNIT_SECONDS = {
    "ms": 0.001,
    "s": 1.0,
    "sec": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
    "d": 86400.0,
}
_DURATION = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*\Z")


def parse_duration(text: str) -> float:
    """'0.5' -> 0.5, '2s' -> 2.0, '5m' -> 300.0, '24h' -> 86400.0, '250ms' -> 0.25."""
    match = _DURATION.match(text.lower())
    if not match or match.group(2) not in ("", *_UNIT_SECONDS):
        raise ValueError(
            f"{text!r} is not a duration: use seconds (0.5) or a number with "
            "ms, s, m, h or d (2s, 5m, 24h)"
        )
    return float(match.group(1)) * _UNIT_SECONDS.get(match.group(2), 1.0)


@dataclass(frozen=True)
class Rate:
    """`requests` per `per_seconds`, e.g. Rate(30, 60.0) for 30/min."""

    requests: int
    per_seconds: float

    @property
    def interval(self) -> float:
        """The spacing between two requests that keeps to this rate."""
        return self.per_seconds / self.requests

    def __str__(self) -> str:
        return f"{self.requests}/{_format_seconds(self.per_seconds)}"


def parse_rate(text: str) -> Rate:
    """'30/min', '600/min', '5/s', '30/60s', '100/h' -> Rate."""
    count, sep, per = text.partition("/")
    try:
        requests = int(count.strip())
        if not sep or requests < 1:
            raise ValueError
        per = per.strip().lower()
        seconds = _UNIT_SECONDS[per] if per in _UNIT_SECONDS else parse_duration(per)
        if seconds <= 0:
            raise ValueError
    except ValueError:
        raise ValueError(
            f"{text!r} is not a rate: write a whole number of requests per period, "
            "like 30/min, 5/s or 30/60s"
        ) from None
    return Rate(requests, seconds)


def _format_seconds(seconds: float) -> str:
    for unit in ("d", "h", "min", "s"):
        if seconds == _UNIT_SECONDS[unit]:
            return unit
    return f"{seconds:g}s"


_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "kib": 1024,
    "mb": 1000**2,
    "mib": 1024**2,
    "gb": 1000**3,
    "gib": 1024**3,
}
_SIZE = re.compile(r"\s*(\d+)\s*([a-z]*)\s*\Z")


def parse_size(text: str) -> int:
    """'1048576' -> 1048576, '512MiB' -> 536870912, '2GB' -> 2000000000."""
    match = _SIZE.match(text.lower())
    if not match or match.group(2) not in _SIZE_UNITS or int(match.group(1)) < 1:
        raise ValueError(
            f"{text!r} is not a size: use bytes (1048576) or KiB, MiB, GiB, KB, MB, GB"
        )
    return int(match.group(1)) * _SIZE_UNITS[match.group(2)]


def format_size(count: int) -> str:
    """1536 -> '1.5 KiB': bytes for people (status, the progress line)."""
    value = float(count)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
