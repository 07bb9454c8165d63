"""What the emulator can be told: `EmulatorConfig`, the OAuth clients it registers, and the
checks that turn a bad setting into a ValueError before anything listens."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from okta_risk_output.units import Rate

__all__ = [
    "DEFAULT_RATE",
    "RISK_EVENTS_SCOPE",
    "Clock",
    "EmulatorConfig",
    "OutageMode",
    "RegisteredClient",
    "check_statuses",
    "normalize_ip",
]

OutageMode = Literal["503", "reset"]
# The endpoint's documented limit.
DEFAULT_RATE = Rate(30, 60.0)
Clock = Callable[[], float]
"""Epoch seconds; every part of the emulator reads the time through one, so tests move a fake
one instead of sleeping."""

# The scope that lets an OAuth client send risk events; what a registered client is granted.
RISK_EVENTS_SCOPE = "okta.riskEvents.manage"

# 1xx cannot be a final answer and 3xx would need a Location, so neither makes sense in a script.
_SCRIPTABLE = frozenset(range(200, 300)) | frozenset(range(400, 600))


@dataclass(frozen=True)
class RegisteredClient:
    """An OAuth service app: its client id, the public JWKs it signs assertions with, and the
    scopes an admin granted it."""

    client_id: str
    keys: tuple[Mapping[str, Any], ...] = field(hash=False)
    scopes: frozenset[str] = frozenset({RISK_EVENTS_SCOPE})

    def __post_init__(self) -> None:
        if not self.client_id.strip():
            raise ValueError("a client id must not be empty")
        if not self.keys:
            raise ValueError(f"client {self.client_id} has no public key")
        for key in self.keys:
            if not isinstance(key, Mapping) or "kty" not in key:
                raise ValueError(f"a key of client {self.client_id} is not a JWK")
            if "d" in key:
                raise ValueError(
                    f"a key of client {self.client_id} is a private JWK; give the public one"
                )


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything `okta-risk-output emulator` can be told; the defaults emulate a healthy org.

    The rate limit allows `rate.requests` requests per window of `window_seconds`; when
    `window_seconds` is None the window is the rate's own period (30/min -> 60 s).
    The outage starts `outage_after` seconds after the emulator starts (0 when None) and lasts
    `outage_for` seconds (for ever when None); there is no outage when both are None.
    With `clients`, /oauth2/v1/token issues tokens to them and the endpoint accepts those
    tokens; SSWS is then accepted only with `api_token` set.
    """

    host: str = "127.0.0.1"
    port: int = 0
    api_token: str | None = None
    record_path: Path | None = None
    rate: Rate = DEFAULT_RATE
    window_seconds: float | None = None
    fail_rate: float = 0.0
    seed: int | None = None
    latency: float = 0.0
    script: tuple[int, ...] = ()
    outage_after: float | None = None
    outage_for: float | None = None
    outage_mode: OutageMode = "503"
    reject_ips: frozenset[str] = frozenset()
    endpoint_off: bool = False
    foreign_load: Rate | None = None
    """Another client of the org drawing on the same budget, e.g. 9/min."""
    verbose: bool = False
    clients: tuple[RegisteredClient, ...] = ()
    disabled_clients: frozenset[str] = frozenset()
    require_dpop: bool = False
    token_lifetime: float = 3600.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.fail_rate <= 1.0:
            raise ValueError(f"fail_rate must be between 0 and 1, not {self.fail_rate}")
        if self.window_seconds is not None and self.window_seconds <= 0:
            raise ValueError(f"window_seconds must be positive, not {self.window_seconds}")
        if self.latency < 0:
            raise ValueError(f"latency must not be negative, not {self.latency}")
        for name in ("outage_after", "outage_for"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must not be negative, not {value}")
        if self.outage_mode not in ("503", "reset"):
            raise ValueError(f"outage_mode must be '503' or 'reset', not {self.outage_mode!r}")
        check_statuses(self.script)
        for ip in self.reject_ips:
            normalize_ip(ip)
        if self.token_lifetime <= 0:
            raise ValueError(f"token_lifetime must be positive, not {self.token_lifetime}")
        known = {client.client_id for client in self.clients}
        unknown = sorted(self.disabled_clients - known)
        if unknown:
            raise ValueError(f"cannot disable {', '.join(unknown)}: not a registered client")

    @property
    def limit(self) -> int:
        return self.rate.requests

    @property
    def window(self) -> float:
        return self.rate.per_seconds if self.window_seconds is None else self.window_seconds

    @property
    def has_outage(self) -> bool:
        return self.outage_after is not None or self.outage_for is not None

    @property
    def any_ssws_token(self) -> bool:
        """Whether any non-empty SSWS token will do: no token was set and no OAuth client
        was registered (an org with OAuth clients checks its API tokens)."""
        return self.api_token is None and not self.clients


def check_statuses(statuses: tuple[int, ...]) -> tuple[int, ...]:
    for status in statuses:
        if isinstance(status, bool) or not isinstance(status, int) or status not in _SCRIPTABLE:
            raise ValueError(
                f"a scripted status must be an HTTP status 2xx, 4xx or 5xx, not {status!r}"
            )
    return statuses


def normalize_ip(ip: str) -> str:
    """One spelling per address, so '2001:DB8::1' matches '2001:db8:0::1'."""
    return str(ipaddress.ip_address(ip.strip()))
