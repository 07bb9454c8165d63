"""What the risk endpoint remembers and decides, apart from HTTP: rate windows, faults,
accepted requests and stats.

Every decision takes the time from an injectable clock so that window and outage logic can be
tested by moving a fake clock instead of sleeping.
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from okta_risk_output.emulator.config import (
    Clock,
    EmulatorConfig,
    check_statuses,
    normalize_ip,
)
from okta_risk_output.emulator.messages import RateInfo

__all__ = ["Admission", "EmulatorState", "iso_ms"]


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


def iso_ms(epoch: float) -> str:
    """UTC ISO 8601 with milliseconds and a Z, as Okta writes times."""
    moment = datetime.fromtimestamp(epoch, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _subject_count(event: Any) -> int:
    subjects = event.get("subjects") if isinstance(event, dict) else None
    return len(subjects) if isinstance(subjects, list) else 0
