"""Delivery from the spool: pick a due batch, pace, send, and settle each event's fate.

One `step()` does one thing (expire, send one batch, or say how long to wait), so the loop
that calls it owns waiting and shutdown, and tests can drive it with a fake clock.

    delivered (2xx)      ack: the events leave the spool
    retry (429/5xx/net)  back to the spool with a next attempt time; all sending pauses for
                         the server's Reset or the backoff (one failing org, one pause)
    rejected (400)       split in halves until the guilty events stand alone; dead-letter them
    stop (401/403/404)   events go back untouched; delivery pauses for this process
"""

from __future__ import annotations

import threading

import requests

from okta_risk_output.batching import batch_due
from okta_risk_output.clock import Clock
from okta_risk_output.deadletter import DeadLetterFile
from okta_risk_output.errors import DeliveryStopped, ExitStatus
from okta_risk_output.logs import log
from okta_risk_output.metrics import Counters
from okta_risk_output.okta import OktaClient
from okta_risk_output.ratelimit import RateLimiter
from okta_risk_output.retry import Action, Outcome, RetryPolicy, classify
from okta_risk_output.spool import Lease, Leased, Spool
from okta_risk_output.validation import SchemaError

__all__ = ["Deliverer"]


class Deliverer:
    def __init__(
        self,
        *,
        client: OktaClient,
        spool: Spool,
        limiter: RateLimiter,
        policy: RetryPolicy,
        dead_letter: DeadLetterFile,
        counters: Counters,
        clock: Clock,
        stop: threading.Event,
        max_events: int,
        linger: float,
        lease_seconds: float,
    ) -> None:
        self._client = client
        self._spool = spool
        self._limiter = limiter
        self._policy = policy
        self._dead_letter = dead_letter
        self._counters = counters
        self._clock = clock
        self._stop = stop
        self._max_events = max_events
        self._linger = linger
        self._lease_seconds = lease_seconds
        self._failures = 0
        """Consecutive retryable failures, for the backoff; reset by any success."""
        self._renewed = False
        """Whether the credential was renewed after the last 401; a second 401 stops."""
        self.stopped: Outcome | None = None
        """Set when Okta refused us for good (401, 403, 404...): delivery is paused."""

    def step(self, *, input_ended: bool) -> float | None:
        """Do one unit of work. Returns 0 to be called again at once, seconds to wait first,
        or None when nothing is left that this process could deliver."""
        if self.stopped is not None:
            return None
        now = self._clock.time()
        self._expire(now)
        ready, oldest, upcoming = self._spool.ready(now)
        if ready == 0:
            return None if upcoming is None else max(0.0, upcoming - now)
        age = now - (oldest if oldest is not None else now)
        if not batch_due(
            ready, age, max_events=self._max_events, linger=self._linger, ended=input_ended
        ):
            return self._linger - age
        delay = self._limiter.delay()
        if delay > 0:
            return delay
        lease = self._spool.lease(self._max_events, now, self._lease_seconds)
        if lease is not None:
            self._deliver(lease)
        return 0.0

    # -- one lease -----------------------------------------------------------------------

    def _deliver(self, lease: Lease) -> None:
        parts = [lease.events]
        first = True
        while parts:
            part = parts.pop()
            if not first:
                # The halves of a rejected batch wait for their turn like any request.
                if not self._wait_for_turn():
                    self._spool.release(_with_rest(part, parts))
                    return
                self._spool.extend(lease, self._clock.time(), self._lease_seconds)
            first = False
            outcome = self._send(part)
            if outcome.action is not Action.STOP:
                self._renewed = False
            if outcome.action is Action.DELIVERED:
                self._failures = 0
                self._counters.add(delivered=self._spool.ack(part))
            elif outcome.action is Action.REJECTED and len(part) > 1:
                self._failures = 0
                middle = len(part) // 2
                parts += [part[middle:], part[:middle]]  # first half goes out first
                log.info(
                    "Okta rejected a request of %d events (%s); splitting it to find the bad ones",
                    len(part),
                    outcome.reason,
                )
            elif outcome.action is Action.REJECTED:
                self._failures = 0
                self._dead_letter_events(
                    part, "rejected_by_okta", outcome.causes or (outcome.reason,)
                )
                self._counters.add(rejected=len(part))
            elif outcome.action is Action.RETRY:
                self._retry_later(_with_rest(part, parts), outcome)
                return
            elif self._renew_once(outcome):
                parts.append(part)  # the same events again, with a fresh credential
            else:
                self._pause(_with_rest(part, parts), outcome)
                return

    def _send(self, part: list[Leased]) -> Outcome:
        self._limiter.started()
        response: requests.Response | None = None
        error: Exception | None = None
        try:
            response = self._client.post([e.event for e in part])
        except requests.RequestException as exc:
            error = exc
        except DeliveryStopped as exc:  # the OAuth token endpoint refused us for good
            return Outcome(Action.STOP, str(exc), exc.status_code, exit_status=exc.exit_status)
        finally:
            self._limiter.finished()
        self._counters.add(requests=1)
        return classify(
            response,
            error,
            reset_wait_max=self._policy.reset_wait_max,
            oauth=self._client.auth.renewable,
        )

    def _renew_once(self, outcome: Outcome) -> bool:
        """401 (or an OAuth-shaped 400): renew a renewable credential once and try again."""
        auth = self._client.auth
        if outcome.exit_status is not ExitStatus.AUTH_FAILED or self._renewed:
            return False
        if not auth.renewable or outcome.status not in (400, 401):
            return False
        self._renewed = True
        auth.renew()
        log.warning("%s; renewing the access token and trying once more", outcome.reason)
        return True

    def _retry_later(self, events: list[Leased], outcome: Outcome) -> None:
        now = self._clock.time()
        # The server's word (a 429's Reset) beats our own backoff.
        wait = outcome.wait
        delay = wait if wait is not None else self._policy.backoff(self._failures)
        self._failures += 1
        self._counters.add(retries=1, throttled=int(outcome.status == 429))
        # One org, one pause: every request waits, not only this batch.
        self._limiter.block_for(delay)
        max_age = self._policy.max_retry_age
        if max_age is not None:
            expired = [e for e in events if now - (e.first_failure_at or now) >= max_age]
            if expired:
                reason = f"gave up after retrying for at least {max_age:g}s: {outcome.reason}"
                self._dead_letter_events(expired, "gave_up", (reason,))
                self._counters.add(gave_up=len(expired))
                events = [e for e in events if e not in expired]
        log.warning("%s; retrying in %.1fs", outcome.reason, delay)
        self._spool.retry_later(events, now=now, at=now + delay, error=outcome.reason)

    def _pause(self, events: list[Leased], outcome: Outcome) -> None:
        self._spool.release(events, error=outcome.reason)
        self.stopped = outcome
        log.error(
            "delivery stopped: %s; %d events stay in the spool %s until this is fixed",
            outcome.reason,
            self._spool.live(),
            self._spool.path,
        )

    def _wait_for_turn(self) -> bool:
        """Wait until the rate limiter lets a request go; False on shutdown."""
        while not self._stop.is_set():
            delay = self._limiter.delay()
            if delay <= 0:
                return True
            self._clock.sleep(min(delay, 0.25), self._stop)
        return False

    def _dead_letter_events(self, events: list[Leased], kind: str, causes: tuple[str, ...]) -> None:
        prefix = "Okta: " if kind == "rejected_by_okta" else ""
        for leased in events:
            self._dead_letter.write(
                now=self._clock.time(),
                source=leased.source,
                line=leased.line,
                kind=kind,
                errors=[SchemaError("$", prefix + cause) for cause in causes],
                event=leased.event,
            )
            log.warning(
                "%s line %d: %s (%s); dead-lettered",
                leased.source,
                leased.line,
                "Okta rejected the event" if kind == "rejected_by_okta" else "gave up",
                "; ".join(causes),
            )
        # Only once every entry is safely in the dead-letter file do they leave the spool.
        self._spool.dead(events)

    def _expire(self, now: float) -> None:
        gone = self._spool.expire(now)
        if gone:
            self._counters.add(expired=len(gone))
            source, line = gone[0]
            log.warning(
                "%d events expired before they could be sent (first: %s line %d); not sent",
                len(gone),
                source,
                line,
            )


def _with_rest(part: list[Leased], parts: list[list[Leased]]) -> list[Leased]:
    """The events of `part` and of every part still waiting, in sending order."""
    return part + [e for waiting in reversed(parts) for e in waiting]
