"""The in-memory backlog between intake and delivery, and when a batch is due.

A batch is due when it is full, when its oldest event has waited `linger`, or when input
has ended. The backlog is bounded: intake blocks when it is full, so a huge file cannot
exhaust memory (the host's own buffer takes the pressure).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from okta_risk_output.clock import Clock

__all__ = ["Backlog", "Pending", "batch_due"]

_POLL = 0.2
"""Longest blind wait: how quickly a halt (shutdown, stopped delivery) is noticed."""


@dataclass(frozen=True)
class Pending:
    """An accepted event waiting for delivery, with where it came from."""

    event: dict[str, Any]
    source: str
    line: int
    accepted_at: float
    """clock.monotonic() when it was accepted."""


def batch_due(
    count: int, oldest_age: float, *, max_events: int, linger: float, ended: bool
) -> bool:
    if count == 0:
        return False
    return count >= max_events or ended or oldest_age >= linger


class Backlog:
    def __init__(self, clock: Clock, max_pending: int = 100_000) -> None:
        self._clock = clock
        self._max_pending = max_pending
        self._items: deque[Pending] = deque()
        self._cond = threading.Condition()
        self._ended = False
        self._halted = False

    def put(self, item: Pending) -> bool:
        """Add an accepted event; False if the backlog was halted (the caller keeps the event)."""
        with self._cond:
            while len(self._items) >= self._max_pending and not self._halted:
                self._cond.wait(_POLL)
            if self._halted:
                return False
            self._items.append(item)
            self._cond.notify_all()
            return True

    def end_of_input(self) -> None:
        with self._cond:
            self._ended = True
            self._cond.notify_all()

    def halt(self) -> list[Pending]:
        """Refuse further puts and hand back everything still waiting."""
        with self._cond:
            self._halted = True
            left = list(self._items)
            self._items.clear()
            self._cond.notify_all()
            return left

    def take(self, max_events: int, linger: float, stop: threading.Event) -> list[Pending]:
        """The next due batch; empty when input has ended and nothing is left, or on stop."""
        with self._cond:
            while not stop.is_set() and not self._halted:
                count = len(self._items)
                age = self._clock.monotonic() - self._items[0].accepted_at if count else 0.0
                if batch_due(count, age, max_events=max_events, linger=linger, ended=self._ended):
                    batch = [self._items.popleft() for _ in range(min(count, max_events))]
                    self._cond.notify_all()
                    return batch
                if self._ended and count == 0:
                    return []
                self._cond.wait(min(_POLL, linger - age) if count else _POLL)
            return []

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)
