"""Counters for this process, and the closing summary.

Intake: every line read is exactly one of blank, invalid (dead-lettered), skipped (by
design: a profile's non-alert record, an address Okta never sees), spooled, or refused by
the overflow policy; `balance()` checks it. What happens to a spooled event
afterwards (delivered, rejected by Okta, given up, expired, dropped to make room, or still
spooled) is counted here for what this process did, and in the spool's totals for all
processes sharing it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, fields

__all__ = ["Counters"]


@dataclass
class Counters:
    lines: int = 0
    blank: int = 0
    invalid: int = 0
    skipped: int = 0
    """Records that by design become no event (see skipped_by_reason)."""
    spooled: int = 0
    refused: int = 0
    """New events the overflow policy turned away (reject-new, or ranked lowest when full)."""
    evicted: int = 0
    """Older signals dropped to make room for new ones (drop-lowest-risk)."""
    coalesced: int = 0
    """Subjects merged into a signal already waiting for the same IP."""
    delivered: int = 0
    rejected: int = 0
    """Valid by our schema, refused by Okta with a 400 (isolated by bisection)."""
    gave_up: int = 0
    """Retried for longer than --max-retry-age."""
    expired: int = 0
    taken_over: int = 0
    """Signals whose lease ran out before this process settled them: another process
    sharing the spool took them over, and settles them (docs/guarantees.md, leases)."""
    requests: int = 0
    retries: int = 0
    throttled: int = 0
    """429 answers."""
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **amounts: int) -> None:
        with self._lock:
            for name, amount in amounts.items():
                setattr(self, name, getattr(self, name) + amount)

    def skip(self, reason: str) -> None:
        with self._lock:
            self.lines += 1
            self.skipped += 1
            self.skipped_by_reason[reason] = self.skipped_by_reason.get(reason, 0) + 1

    def snapshot(self) -> dict[str, int]:
        """Every count (not the reasons), as plain numbers."""
        with self._lock:
            return {
                f.name: getattr(self, f.name)
                for f in fields(self)
                if f.name not in ("_lock", "skipped_by_reason")
            }

    @property
    def dead_lettered(self) -> int:
        return self.invalid + self.rejected + self.gave_up

    def balance(self) -> bool:
        """True when every line read is accounted for exactly once."""
        c = self.snapshot()
        parts = c["blank"] + c["invalid"] + c["skipped"] + c["spooled"] + c["refused"]
        return c["lines"] == parts

    def summary(self, elapsed: float, left_in_spool: int | None) -> str:
        c = self.snapshot()
        left = "" if left_in_spool is None else f" left_in_spool={left_in_spool}"
        with self._lock:
            reasons = " ".join(f"{k}={v}" for k, v in sorted(self.skipped_by_reason.items()))
        why = f" ({reasons})" if reasons else ""
        return (
            f"summary lines={c['lines']} blank={c['blank']} invalid={c['invalid']} "
            f"skipped={c['skipped']}{why} spooled={c['spooled']} refused={c['refused']} "
            f"delivered={c['delivered']} "
            f"dead_lettered={self.dead_lettered} (invalid={c['invalid']} "
            f"rejected_by_okta={c['rejected']} gave_up={c['gave_up']}) expired={c['expired']} "
            f"dropped={c['evicted']} coalesced={c['coalesced']} requests={c['requests']} "
            f"retries={c['retries']} "
            f"throttled_429={c['throttled']}{left} elapsed={elapsed:.1f}s"
        )
