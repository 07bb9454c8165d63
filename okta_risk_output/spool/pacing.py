"""The token bucket's rule, here because the spool applies it when it hands out the shared
send slot (several processes, one budget); delivery/ratelimit.py applies it in-process."""

from __future__ import annotations

__all__ = ["next_token"]


def next_token(previous: float, now: float, interval: float) -> float:
    """When the token after the one just spent comes: one interval after the previous
    token was due, or after now when that is further back than one interval (the bucket
    holds at most two, so an idle spell cannot build up a burst)."""
    return max(previous, now - interval) + interval
