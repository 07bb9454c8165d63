"""A subject on its way into the spool, what it costs, and how two for one IP merge.

Rules, not storage: any backend applies them the same way, so that coalescing and
--spool-max-bytes mean one thing whichever spool holds the signals.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from okta_risk_output.levels import risk_rank
from okta_risk_output.timestamps import epoch_of

__all__ = ["MESSAGE_MAX", "Incoming", "incoming", "merged", "signal_size"]

MESSAGE_MAX = 512


@dataclass(frozen=True)
class Incoming:
    """A subject on its way into the spool (or a signal's fields, when merging)."""

    ip: str
    rank: int
    message: str | None
    event_ts: float | None
    expires_at: float | None

    @property
    def size(self) -> int:
        return signal_size(self.ip, self.message)


def incoming(event: dict[str, Any]) -> Iterator[Incoming]:
    """Each subject of a validated RiskEvent, with the event's timestamp and expiry."""
    stamp = event.get("timestamp")
    event_ts = epoch_of(stamp) if isinstance(stamp, str) else None
    expiry = event.get("expiresAt")
    expires_at = epoch_of(expiry) if isinstance(expiry, str) else None
    for subject in event["subjects"]:
        yield Incoming(
            ip=subject["ip"],
            rank=risk_rank(subject["riskLevel"]),
            message=subject.get("message") or None,
            event_ts=event_ts,
            expires_at=expires_at,
        )


def signal_size(ip: str, message: str | None) -> int:
    """Bytes a signal costs the spool, for --spool-max-bytes: its text plus a fixed 64."""
    return len(ip) + len(message or "") + 64


def merged(waiting: Incoming, new: Incoming) -> Incoming:
    """`new` merged into the `waiting` signal of its IP: the highest level, the latest
    expiry (none at all meaning Okta's default of 24 h after it takes the event, the
    latest), the earliest timestamp, both messages within 512 characters."""
    expiry = (
        None
        if waiting.expires_at is None or new.expires_at is None
        else max(waiting.expires_at, new.expires_at)
    )
    return Incoming(
        ip=new.ip,
        rank=min(waiting.rank, new.rank),
        message=_merge_messages(waiting.message, new.message),
        event_ts=_earliest(waiting.event_ts, new.event_ts),
        expires_at=expiry,
    )


def _merge_messages(old: str | None, new: str | None) -> str | None:
    """Both reasons, the old first, joined by " - " (Okta allows no other separator)."""
    if not new or (old and new in old):
        return old
    if not old:
        return new
    return f"{old} - {new}"[:MESSAGE_MAX].rstrip()


def _earliest(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)
