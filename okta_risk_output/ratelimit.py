"""Client-side pacing that never exceeds the configured rate, as Okta counts it.

Two rules, both checked before every request:
- a token bucket holding one token, refilled every `interval` (window / limit): requests
  are spread evenly, so a HIGH signal arriving later never finds the window used up;
- at most `limit` requests per `window` measured from the *end* of an earlier request to
  the *start* of a later one. Okta counts arrivals, which fall between the two, so this
  holds under any network delay, including a slow first connection.
A 429 or a server-directed wait blocks all requests until the given time.
"""

from __future__ import annotations

from collections import deque

from okta_risk_output.clock import Clock
from okta_risk_output.units import Rate

__all__ = ["RateLimiter"]


class RateLimiter:
    def __init__(self, rate: Rate, clock: Clock) -> None:
        self.rate = rate
        self._clock = clock
        self._next_token = float("-inf")
        self._blocked_until = float("-inf")
        self._finished: deque[float] = deque(maxlen=rate.requests)

    def delay(self) -> float:
        """Seconds until the next request may start; 0 when it may start now."""
        earliest = max(self._next_token, self._blocked_until)
        if len(self._finished) == self.rate.requests:
            earliest = max(earliest, self._finished[0] + self.rate.per_seconds)
        return max(0.0, earliest - self._clock.monotonic())

    def started(self) -> None:
        self._next_token = self._clock.monotonic() + self.rate.interval

    def finished(self) -> None:
        self._finished.append(self._clock.monotonic())

    def block_for(self, seconds: float) -> None:
        """Hold every request for `seconds` (Okta said so, with a 429 and its Reset)."""
        self._blocked_until = max(self._blocked_until, self._clock.monotonic() + seconds)
