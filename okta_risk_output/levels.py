"""Okta's three risk levels, in the order requests are filled: the one definition.

The schema admits only these three, and every signal is validated before it is spooled, so
`risk_rank` of anything else is a bug upstream: it raises rather than guessing a rank (an
unknown level ranked as LOW would be sent last; ranked after LOW, it would have no row in
the spool's by-level counts).
"""

from __future__ import annotations

__all__ = ["RISK_LEVELS", "normal_level", "risk_rank"]

RISK_LEVELS = ("HIGH", "MEDIUM", "LOW")
"""Highest first: HIGH goes out before MEDIUM, MEDIUM before LOW (Okta asks for HIGH first)."""

_RANK = {level: rank for rank, level in enumerate(RISK_LEVELS)}


def risk_rank(level: str) -> int:
    """0 for HIGH, 1 for MEDIUM, 2 for LOW."""
    try:
        return _RANK[level]
    except KeyError:
        raise ValueError(f"{level!r} is not one of Okta's risk levels") from None


def normal_level(raw: object) -> str | None:
    """'high ' -> 'HIGH'; None for anything that is not one of the three in any case."""
    if isinstance(raw, str):
        level = raw.strip().upper()
        if level in _RANK:
            return level
    return None
