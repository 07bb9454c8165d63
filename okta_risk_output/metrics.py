"""Counters for the conservation law and the closing summary.

Every line read ends in exactly one of: blank, invalid (dead-lettered), delivered,
rejected by Okta (dead-lettered), undelivered (dead-lettered when delivery stopped or gave
up), or still pending. `balance()` checks that the sums add up.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, fields

__all__ = ["Counters"]


@dataclass
class Counters:
    lines: int = 0
    blank: int = 0
    valid: int = 0
    invalid: int = 0
    delivered: int = 0
    rejected: int = 0
    """Valid by our schema, refused by Okta with a 400 (isolated by bisection)."""
    undelivered: int = 0
    """Valid, but delivery stopped (401/403/404), gave up (--max-retry-age) or was shut down."""
    requests: int = 0
    retries: int = 0
    throttled: int = 0
    """429 answers."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **amounts: int) -> None:
        with self._lock:
            for name, amount in amounts.items():
                setattr(self, name, getattr(self, name) + amount)

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "_lock"}

    @property
    def dead_lettered(self) -> int:
        return self.invalid + self.rejected + self.undelivered

    @property
    def pending(self) -> int:
        return self.valid - self.delivered - self.rejected - self.undelivered

    def balance(self) -> bool:
        """True when every line read is accounted for exactly once."""
        c = self.snapshot()
        return c["lines"] == c["blank"] + c["invalid"] + c["valid"] and self.pending >= 0

    def summary(self, elapsed: float) -> str:
        c = self.snapshot()
        return (
            f"summary lines={c['lines']} blank={c['blank']} valid={c['valid']} "
            f"invalid={c['invalid']} delivered={c['delivered']} "
            f"dead_lettered={self.dead_lettered} (invalid={c['invalid']} "
            f"rejected_by_okta={c['rejected']} undelivered={c['undelivered']}) "
            f"pending={self.pending} requests={c['requests']} retries={c['retries']} "
            f"throttled_429={c['throttled']} elapsed={elapsed:.1f}s"
        )
