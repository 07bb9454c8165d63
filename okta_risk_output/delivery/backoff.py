"""How long to wait between attempts: the backoff policy, a value (sleeping happens elsewhere).

Apart from retry.py's `classify` (which reads HTTP answers, and so imports requests), so that
building the settings of a run that only spools (`enqueue`) needs no HTTP library.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["RetryPolicy"]


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait between attempts. Immutable; sleeping happens elsewhere."""

    backoff_base: float = 1.0
    backoff_max: float = 60.0
    reset_wait_max: float = 120.0
    """Cap on a server-directed wait, so a bad Reset header cannot park us for hours."""
    max_retry_age: float | None = None
    """Give a batch up (dead-letter it) once it has been retried this long; None: never."""
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform(0, min(max, base * 2**attempt)); attempt counts from 0."""
        ceiling = min(self.backoff_max, self.backoff_base * (2 ** min(attempt, 30)))
        return self.rng.uniform(0.0, ceiling)
