"""Client-side pacing that never exceeds the configured rate, as Okta counts it, and
never plans more requests than Okta says are left.

Rules, all checked before every request:
- a token bucket refilled at the rate (one token every `interval` = window / limit) and
  holding at most two: requests are spread evenly, so a HIGH signal arriving later never
  finds the window used up, and a request that went out a little late does not push all
  later ones back (processes sharing a spool share this bucket through it: see
  Store.claim_send_slot);
- at most `limit` requests per `window` measured from the *end* of an earlier request to
  the *start* of a later one. Okta counts arrivals, which fall between the two, so this
  holds under any network delay, including a slow first connection;
- Okta's own X-Rate-Limit-Remaining and -Reset, read on every answer: our share of the
  requests left (what other clients of the org are seen to spend is set aside) is spread
  over the time left, and none is sent once Remaining is 0 until Reset has passed. These
  headers win over the local setting whenever they are stricter;
- a 429 or another server-directed wait blocks all requests until the given time.

The loop's side of the delivery seam (sink.py): a sink reports the budget an answer
names (`read_budget`), and the loop paces every output's requests by these rules.
"""

from __future__ import annotations

import contextlib
import math
from collections import deque
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import requests

from okta_risk_output.clock import NO_WAIT, Clock
from okta_risk_output.observe.logs import log
from okta_risk_output.okta.answers import header_min
from okta_risk_output.spool.pacing import next_token
from okta_risk_output.units import Rate

__all__ = ["RateLimiter", "ServerBudget", "read_budget"]

_SKEW = 1.0
"""Seconds added to a Reset: Okta's clock and ours may disagree a little."""


@dataclass(frozen=True)
class ServerBudget:
    """What Okta's X-Rate-Limit-* headers said: requests left, and seconds until they refill."""

    limit: int
    remaining: int
    reset_in: float

    @property
    def concurrency_limited(self) -> bool:
        """Limit=0 and Remaining=0 mark a concurrency limit, whose Reset is only a guess."""
        return self.limit == 0 and self.remaining == 0

    def gap(self, others_per_second: float = 0.0) -> float:
        """The spacing, from one request's start to the next, that spends our share of what
        is left by the time the window resets.

        With nothing left for us, nothing goes until Reset has passed (+1 s for skew): that
        is the hard rule. Otherwise `remaining` requests fit before Reset, less what other
        clients of the org will take meanwhile at the rate they were seen spending; ours go
        reset_in / (share + 1) apart, the last just before Reset. Requests go one at a time
        and every answer brings a new Remaining, so a plan that turns out too fast stops at
        0 rather than at a 429.
        """
        # Reset and Date are whole seconds: the time left can look up to 2 s longer than it
        # is, a lot in a short window, so the plan takes a second off.
        left = max(0.0, self.reset_in - _SKEW)
        share = math.floor(self.remaining - others_per_second * left)
        if share <= 0:
            return self.reset_in + _SKEW
        return left / (share + 1)


def read_budget(
    response: requests.Response, local_now: float, *, reset_cap: float = 120.0
) -> ServerBudget | None:
    """The budget an answer reports, measured on the server's clock (its Date header) when
    it has one; None when the headers are missing.

    A Reset further away than `reset_cap` (Okta's windows are a minute; the documented
    bound is the 2-minute cap on a Reset wait) counts as the cap, with one WARN naming the
    header: a broken or hostile answer must not park delivery for years."""
    limit = header_min(response, "X-Rate-Limit-Limit")
    remaining = header_min(response, "X-Rate-Limit-Remaining")
    reset = header_min(response, "X-Rate-Limit-Reset")
    if limit is None or remaining is None or reset is None:
        return None
    now = local_now
    date = response.headers.get("Date")
    if date:
        with contextlib.suppress(TypeError, ValueError, OverflowError):  # our clock will do
            now = parsedate_to_datetime(date).timestamp()
    reset_in = max(0.0, reset - now)
    if reset_in > reset_cap:
        _warn_once(
            "X-Rate-Limit-Reset",
            f"X-Rate-Limit-Reset says the budget returns in {reset_in:.0f}s, beyond the"
            f" {reset_cap:g}s any wait may last; counting it as {reset_cap:g}s",
        )
        reset_in = reset_cap
    return ServerBudget(max(0, limit), max(0, remaining), reset_in)


_warned: set[str] = set()


def _warn_once(header: str, message: str) -> None:
    """One WARN per header and process: a bad header usually comes on every answer."""
    if header not in _warned:
        _warned.add(header)
        log.warning("%s", message)


class RateLimiter:
    def __init__(self, rate: Rate, clock: Clock) -> None:
        self.rate = rate
        self._clock = clock
        self._next_token = float("-inf")
        self._blocked_until = float("-inf")
        self._server_next = float("-inf")
        self._started = float("-inf")
        self._finished: deque[float] = deque(maxlen=rate.requests)
        self._last_budget: ServerBudget | None = None
        self._last_budget_at = float("-inf")
        self._others_per_second = 0.0

    def delay(self) -> float:
        """Seconds until the next request may start; 0 when it may start now."""
        earliest = max(self._next_token, self._blocked_until, self._server_next)
        if len(self._finished) == self.rate.requests:
            earliest = max(earliest, self._finished[0] + self.rate.per_seconds)
        wait = earliest - self._clock.monotonic()
        return wait if wait > NO_WAIT else 0.0

    def started(self) -> None:
        self._started = self._clock.monotonic()
        self._next_token = next_token(self._next_token, self._started, self.rate.interval)

    def finished(self, budget: ServerBudget | None = None) -> float | None:
        """A request ended; `budget` is what its answer said. Returns the gap Okta's budget
        asks for between this request's start and the next one's, if any."""
        self._finished.append(self._clock.monotonic())
        if budget is None or budget.concurrency_limited:
            return None
        self._learn_others(budget)
        gap = budget.gap(self._others_per_second)
        # Okta counted the request when it arrived, near its start: measure from there.
        self._server_next = self._started + gap
        return gap

    def _learn_others(self, budget: ServerBudget) -> None:
        """Estimate how fast other clients spend the org's budget: within one window,
        Remaining falls by our one request plus theirs."""
        previous, seen_at = self._last_budget, self._last_budget_at
        self._last_budget, self._last_budget_at = budget, self._started
        same_window = (
            previous is not None
            and abs((seen_at + previous.reset_in) - (self._started + budget.reset_in)) < 1.5 * _SKEW
        )
        elapsed = self._started - seen_at
        if previous is not None and not same_window:
            # A new window: what was seen before fades, so one busy window (or a 429 that
            # emptied it) cannot hold delivery back for good.
            self._others_per_second *= 0.5
            return
        if previous is None or elapsed <= 0 or budget.remaining <= 0:
            return  # an emptied window says nothing about the rate: it is handled as such
        theirs = max(0, previous.remaining - budget.remaining - 1)
        # A moving average: one busy second of another client should not stall us for long.
        self._others_per_second += 0.5 * (theirs / elapsed - self._others_per_second)

    def last_budget(self) -> ServerBudget | None:
        """What Okta's last answer said is left, its reset counted down to now."""
        budget = self._last_budget
        if budget is None:
            return None
        elapsed = self._clock.monotonic() - self._last_budget_at
        return ServerBudget(budget.limit, budget.remaining, max(0.0, budget.reset_in - elapsed))

    def block_for(self, seconds: float) -> None:
        """Hold every request for `seconds` (Okta said so, with a 429 and its Reset)."""
        self._blocked_until = max(self._blocked_until, self._clock.monotonic() + seconds)
