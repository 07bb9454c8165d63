"""Deliver one batch: pace, send, classify, wait, retry; bisect a 400 down to the guilty events."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import requests

from okta_risk_output.batching import Pending
from okta_risk_output.clock import Clock
from okta_risk_output.deadletter import DeadLetterFile
from okta_risk_output.errors import ExitStatus
from okta_risk_output.logs import log
from okta_risk_output.metrics import Counters
from okta_risk_output.okta import OktaClient
from okta_risk_output.ratelimit import RateLimiter
from okta_risk_output.retry import Action, Outcome, RetryPolicy, classify
from okta_risk_output.validation import SchemaError

__all__ = ["Deliverer", "Undelivered"]


@dataclass
class Undelivered(Exception):
    """Delivery ended before these events were sent: stopped by Okta, given up, or shut down."""

    reason: str
    events: list[Pending]
    outcome: Outcome | None = None

    @property
    def exit_status(self) -> ExitStatus | None:
        """Set when Okta stopped delivery for good (401, 403, 404, ...)."""
        return self.outcome.exit_status if self.outcome else None


class Deliverer:
    def __init__(
        self,
        client: OktaClient,
        limiter: RateLimiter,
        policy: RetryPolicy,
        counters: Counters,
        dead_letter: DeadLetterFile,
        clock: Clock,
        stop: threading.Event,
    ) -> None:
        self._client = client
        self._limiter = limiter
        self._policy = policy
        self._counters = counters
        self._dead_letter = dead_letter
        self._clock = clock
        self._stop = stop

    def deliver(self, batch: list[Pending]) -> None:
        """Deliver or dead-letter every event of the batch; raise Undelivered for the rest."""
        parts = [batch]
        while parts:
            part = parts.pop()
            try:
                outcome = self._send(part)
            except Undelivered as exc:
                exc.events = _with_rest(part, parts)
                raise
            if outcome.action is Action.DELIVERED:
                self._counters.add(delivered=len(part))
            elif outcome.action is Action.REJECTED and len(part) > 1:
                middle = len(part) // 2
                # Pushed second half first, so the first half goes out first.
                parts += [part[middle:], part[:middle]]
                log.info(
                    "Okta rejected a request of %d events (%s); splitting it to find the bad ones",
                    len(part),
                    outcome.reason,
                )
            elif outcome.action is Action.REJECTED:
                self._reject(part[0], outcome)
            else:
                raise Undelivered(outcome.reason, _with_rest(part, parts), outcome)

    def _send(self, part: list[Pending]) -> Outcome:
        """Send until the answer is final (delivered, rejected, stop); retries happen here."""
        first_try = self._clock.monotonic()
        attempt = 0
        retry_of: str | None = None
        events = [p.event for p in part]
        while True:
            self._wait(self._limiter.delay())
            self._limiter.started()
            response: requests.Response | None = None
            error: Exception | None = None
            try:
                response = self._client.post(events, retry_of=retry_of, attempt=attempt)
            except requests.RequestException as exc:
                error = exc
            finally:
                self._limiter.finished()
            self._counters.add(requests=1)
            outcome = classify(response, error, reset_wait_max=self._policy.reset_wait_max)
            if outcome.action is not Action.RETRY:
                return outcome
            retry_of = outcome.request_id or retry_of
            self._counters.add(retries=1, throttled=int(outcome.status == 429))
            age = self._clock.monotonic() - first_try
            max_age = self._policy.max_retry_age
            if max_age is not None and age >= max_age:
                raise Undelivered(f"gave up after retrying for {age:.0f}s: {outcome.reason}", part)
            if outcome.wait is not None:
                delay = outcome.wait
                self._limiter.block_for(delay)
            else:
                delay = self._policy.backoff(attempt)
            log.warning("%s; retrying in %.1fs (attempt %d)", outcome.reason, delay, attempt + 1)
            self._wait(delay)
            attempt += 1

    def _wait(self, seconds: float) -> None:
        if self._stop.is_set():
            raise Undelivered("shut down before delivery", [])
        self._clock.sleep(seconds, self._stop)
        if self._stop.is_set():
            raise Undelivered("shut down before delivery", [])

    def _reject(self, pending: Pending, outcome: Outcome) -> None:
        causes = outcome.causes or (outcome.reason,)
        self._dead_letter.write(
            now=self._clock.time(),
            source=pending.source,
            line=pending.line,
            kind="rejected_by_okta",
            errors=[SchemaError("$", f"Okta: {cause}") for cause in causes],
            event=pending.event,
        )
        self._counters.add(rejected=1)
        log.warning(
            "%s line %d: Okta rejected the event (%s); dead-lettered",
            pending.source,
            pending.line,
            "; ".join(causes),
        )


def _with_rest(part: list[Pending], parts: list[list[Pending]]) -> list[Pending]:
    """The events of `part` and of every part still waiting, in sending order."""
    return part + [p for waiting in reversed(parts) for p in waiting]
