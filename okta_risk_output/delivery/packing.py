"""Make every request count: pack waiting signals into RiskEvents and events into a request.

A request may carry 20 events of 50 subjects each: 1,000 IP signals for one request of
Okta's ~30 a minute. Signals whose timestamp and expiresAt agree after rounding down to
the granularity (1 s by default) share an event; the event carries the earliest timestamp
and the latest expiresAt of its members. Signals are taken in the order given (the spool
gives highest risk first), so a signal is left for the next request only when twenty
events are already open and none of them matches it.

The risk-events output's side of the delivery seam (risk_events.py uses it): another
output lays its requests out its own way.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from okta_risk_output.spool.signals import Signal
from okta_risk_output.timestamps import format_utc

__all__ = ["PackLimits", "event_of", "pack", "request_body", "subject_of"]


@dataclass(frozen=True)
class PackLimits:
    max_subjects: int = 50
    max_events: int = 20
    granularity: float = 1.0
    """Seconds; timestamps and expiries equal after rounding down to it share an event."""

    @property
    def max_signals(self) -> int:
        return self.max_subjects * self.max_events


def pack(signals: Iterable[Signal], limits: PackLimits) -> tuple[list[list[Signal]], list[Signal]]:
    """(the events, each a list of its signals, in order of their first member; the signals
    that did not fit)."""
    events: list[list[Signal]] = []
    open_event: dict[tuple[int | None, int | None], list[Signal]] = {}
    left: list[Signal] = []
    for signal in signals:
        key = (_bucket(signal.timestamp, limits), _bucket(signal.expires_at, limits))
        members = open_event.get(key)
        if members is not None and len(members) < limits.max_subjects:
            members.append(signal)
        elif len(events) < limits.max_events:
            members = open_event[key] = [signal]
            events.append(members)
        else:
            left.append(signal)
    return events, left


def request_body(events: list[list[Signal]]) -> list[dict[str, Any]]:
    return [event_of(members) for members in events]


def subject_of(signal: Signal) -> dict[str, Any]:
    subject: dict[str, Any] = {"ip": signal.ip, "riskLevel": signal.level}
    if signal.message:
        subject["message"] = signal.message
    return subject


def event_of(members: list[Signal]) -> dict[str, Any]:
    """One RiskEvent of these signals (one alone, e.g., for its dead-letter entry)."""
    event: dict[str, Any] = {}
    stamps = [m.timestamp for m in members if m.timestamp is not None]
    if stamps:
        event["timestamp"] = format_utc(min(stamps))
    expiries = [m.expires_at for m in members if m.expires_at is not None]
    if expiries:
        event["expiresAt"] = format_utc(max(expiries))
    event["subjects"] = [subject_of(m) for m in members]
    return event


def _bucket(moment: float | None, limits: PackLimits) -> int | None:
    return None if moment is None else math.floor(moment / limits.granularity)
