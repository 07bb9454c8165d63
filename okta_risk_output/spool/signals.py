"""What the spool keeps and hands out: one signal per IP subject, waiting for delivery.

A `Signal` is the spool's row as a value. How signals become a request body (the subjects
and RiskEvents of Okta's endpoint) is the risk-events output's business (delivery/packing.py),
not the spool's: another output reads the same signals.
"""

from __future__ import annotations

from dataclasses import dataclass

from okta_risk_output.levels import risk_rank

__all__ = ["Signal"]


@dataclass(frozen=True, slots=True)  # a lease reads thousands: slots make them cheaper
class Signal:
    """One IP signal waiting for delivery: what becomes one subject of a RiskEvent."""

    id: int
    ip: str
    level: str
    message: str | None
    timestamp: float | None
    """Epoch seconds of the event's timestamp; None when the input gave none."""
    expires_at: float | None
    source: str
    line: int
    attempts: int = 0
    first_failure_at: float | None = None

    @property
    def level_rank(self) -> int:
        """0 for HIGH, 1 for MEDIUM, 2 for LOW: the order requests are filled in."""
        return risk_rank(self.level)
