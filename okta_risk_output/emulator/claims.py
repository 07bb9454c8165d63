"""What the token endpoint and the DPoP checks share about JWTs: every time-based claim is
checked against the emulator's own clock, which tests move, rather than PyJWT's wall clock;
and a `jti` may be spent only once."""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["CLOCK_SKEW", "SIGNATURE_ONLY", "SpentIds", "number"]

CLOCK_SKEW = 60.0
"""Leeway for a client clock that runs a little fast or slow."""

SIGNATURE_ONLY: Any = {
    "verify_exp": False,
    "verify_iat": False,
    "verify_nbf": False,
    "verify_aud": False,
    "verify_iss": False,
}
"""`jwt.decode` options that check the signature only; the callers check the claims."""


class SpentIds:
    """The `jti`s seen, each kept until it could no longer be accepted anyway. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until: dict[str, float] = {}
        """jti -> when it may be forgotten (the JWT it came in has expired by then)."""

    def spend(self, jti: str, now: float, forget_at: float) -> bool:
        """Record `jti` as used; False when it already was. Forgets entries past their time."""
        with self._lock:
            for old, until in list(self._until.items()):
                if until < now:
                    del self._until[old]
            if jti in self._until:
                return False
            self._until[jti] = forget_at
            return True


def number(claims: dict[str, Any], name: str) -> float | None:
    """A numeric claim (a time), or None when it is missing or not a number."""
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)
