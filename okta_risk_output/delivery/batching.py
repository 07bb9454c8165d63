"""When a batch is due: when it is full, when its oldest event has waited `linger`, or when
no more input will come. The loop's rule; "full" is what the sink says one request holds."""

from __future__ import annotations

__all__ = ["batch_due"]


def batch_due(
    count: int, oldest_age: float, *, max_events: int, linger: float, ended: bool
) -> bool:
    if count == 0:
        return False
    return count >= max_events or ended or oldest_age >= linger
