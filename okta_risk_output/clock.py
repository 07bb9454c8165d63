"""Time as a dependency: the core never calls time.* directly, so tests can drive it."""

from __future__ import annotations

import threading
import time
from typing import Protocol

__all__ = ["NO_WAIT", "Clock", "SystemClock"]

NO_WAIT = 0.001
"""A wait shorter than this is none: float epoch seconds near 2e9 cannot resolve much
less, and a loop waiting for such a remainder could spin on a clock that never seems to
move (a fake one in tests; for a moment, a real one)."""


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never goes back; for waits and ages."""
        ...

    def time(self) -> float:
        """Wall-clock epoch seconds; for timestamps and for Okta's X-Rate-Limit-Reset."""
        ...

    def sleep(self, seconds: float, wake: threading.Event | None = None) -> None:
        """Wait `seconds`, returning early when `wake` is set (a shutdown)."""
        ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float, wake: threading.Event | None = None) -> None:
        if seconds <= 0:
            return
        if wake is None:
            time.sleep(seconds)
        else:
            wake.wait(seconds)
