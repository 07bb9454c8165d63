"""What the emulator remembers and decides, apart from HTTP: rate windows, faults, records, stats.

Every decision takes the time from an injectable clock so that window and outage logic can be
tested by moving a fake clock instead of sleeping.
"""

from __future__ import annotations

import ipaddress
import json
import math
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from okta_risk_output.units import Rate

__all__ = [
    "DEFAULT_RATE",
    "Admission",
    "EmulatorConfig",
    "EmulatorState",
    "OutageMode",
    "RateInfo",
    "RegisteredClient",
    "check_statuses",
    "iso_ms",
    "normalize_ip",
]

OutageMode = Literal["503", "reset"]
# The endpoint's documented limit.
DEFAULT_RATE = Rate(30, 60.0)
Clock = Callable[[], float]

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


@dataclass(frozen=True)
class RateInfo:
    """The three X-Rate-Limit-* header values."""

    limit: int
    remaining: int
    reset: int


@dataclass(frozen=True)
class Admission:
    allowed: bool
    info: RateInfo


@dataclass
class _Window:
    started_at: float
    ends_at: float
    requests: int = 0
    throttled: int = 0
    foreign: int = 0
    """Requests another client of the org made in this window (--foreign-load)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "started_at": iso_ms(self.started_at),
            "requests": self.requests,
            "throttled": self.throttled,
            "foreign": self.foreign,
        }


@dataclass
class _Tally:
    by_status: Counter[str] = field(default_factory=Counter)
    events: int = 0
    subjects: int = 0


class EmulatorState:
    """Thread-safe: handler threads and the test thread share one instance."""

    def __init__(self, config: EmulatorConfig, clock: Clock = time.time) -> None:
        self.config = config
        self._clock = clock
        self._lock = threading.Lock()
        self._started = clock()
        self._random = random.Random(config.seed)
        self._script: deque[int] = deque(config.script)
        self._reject = frozenset(normalize_ip(ip) for ip in config.reject_ips)
        self._records: list[dict[str, Any]] = []
        self._windows: list[_Window] = []
        self._tally = _Tally()

    def now(self) -> float:
        return self._clock()

    # Faults

    def outage_active(self, now: float) -> bool:
        config = self.config
        if not config.has_outage:
            return False
        start = self._started + (config.outage_after or 0.0)
        end = math.inf if config.outage_for is None else start + config.outage_for
        return start <= now < end

    def take_scripted(self) -> int | None:
        """The status the script dictates for this request, if any is left."""
        with self._lock:
            return self._script.popleft() if self._script else None

    def roll_failure(self) -> bool:
        if self.config.fail_rate <= 0.0:
            return False
        with self._lock:
            return self._random.random() < self.config.fail_rate

    def rejected_ip(self, ip: str) -> bool:
        try:
            return normalize_ip(ip) in self._reject
        except ValueError:
            return False

    def script(self, statuses: Iterable[int]) -> None:
        """Replace what is left of the script."""
        new = check_statuses(tuple(statuses))
        with self._lock:
            self._script = deque(new)

    def scripted(self) -> list[int]:
        with self._lock:
            return list(self._script)

    # Rate limiting

    def admit(self, now: float, *, force: bool = False) -> Admission:
        """Count one request against the current window, or refuse it when the window is full.

        `force` counts the request even over the limit, for scripted successes: the script
        decided the answer, but the request still used up budget as a real one would.
        """
        limit = self.config.limit
        with self._lock:
            window = self._current(now)
            if window is None:
                window = _Window(started_at=now, ends_at=now + self.config.window)
                self._windows.append(window)
            used = window.requests + self._foreign(window, now)
            if used >= limit and not force:
                window.throttled += 1
                return Admission(False, RateInfo(limit, 0, math.ceil(window.ends_at)))
            window.requests += 1
            remaining = max(0, limit - used - 1)
            return Admission(True, RateInfo(limit, remaining, math.ceil(window.ends_at)))

    def peek(self, now: float) -> RateInfo:
        """The rate headers for a response that does not count against the budget."""
        limit = self.config.limit
        with self._lock:
            window = self._current(now)
            if window is None:
                # No window is open, so the next counted request would open one now.
                return RateInfo(limit, limit, math.ceil(now + self.config.window))
            used = window.requests + self._foreign(window, now)
            return RateInfo(limit, max(0, limit - used), math.ceil(window.ends_at))

    def _foreign(self, window: _Window, now: float) -> int:
        """Requests another client of the org has made in this window by `now`: its rate,
        spread evenly over the window (it draws on the same bucket as we do)."""
        load = self.config.foreign_load
        if load is None:
            return 0
        per_window = load.requests * self.config.window / load.per_seconds
        elapsed = min(1.0, (now - window.started_at) / self.config.window)
        window.foreign = min(self.config.limit, math.floor(per_window * elapsed))
        return window.foreign

    def _current(self, now: float) -> _Window | None:
        if self._windows and now < self._windows[-1].ends_at:
            return self._windows[-1]
        return None

    # Recording and stats

    def count(self, status: int | str) -> None:
        """Tally one answered endpoint request; a closed connection counts as "reset"."""
        with self._lock:
            self._tally.by_status[str(status)] += 1

    def record(self, now: float, events: list[Any], client_id: str | None = None) -> None:
        """Keep an accepted request, and append it to the record file when there is one.

        `client_id` names the OAuth client that sent it: the risk provider Okta would
        attribute the events to. SSWS requests have none.
        """
        entry: dict[str, Any] = {"received_at": iso_ms(now), "events": events}
        if client_id is not None:
            entry["client_id"] = client_id
        with self._lock:
            self._records.append(entry)
            self._tally.events += len(events)
            self._tally.subjects += sum(_subject_count(event) for event in events)
            if self.config.record_path is not None:
                # Opened per write so the file can be moved or truncated while we run.
                with self.config.record_path.open("a", encoding="utf-8") as out:
                    out.write(json.dumps(entry, separators=(",", ":")) + "\n")

    def requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(entry) for entry in self._records]

    def stats(self) -> dict[str, Any]:
        with self._lock:
            by_status = dict(sorted(self._tally.by_status.items()))
            return {
                "requests": sum(by_status.values()),
                "accepted": by_status.get("202", 0),
                "events": self._tally.events,
                "subjects": self._tally.subjects,
                "by_status": by_status,
                "throttled": by_status.get("429", 0),
                "windows": [window.as_dict() for window in self._windows],
                "limit": self.config.limit,
                "window_seconds": self.config.window,
            }

    def reset(self) -> None:
        """Forget records, stats and windows; the script, faults and record file stay."""
        with self._lock:
            self._records.clear()
            self._windows.clear()
            self._tally = _Tally()


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


def iso_ms(epoch: float) -> str:
    """UTC ISO 8601 with milliseconds and a Z, as Okta writes times."""
    moment = datetime.fromtimestamp(epoch, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _subject_count(event: Any) -> int:
    subjects = event.get("subjects") if isinstance(event, dict) else None
    return len(subjects) if isinstance(subjects, list) else 0
