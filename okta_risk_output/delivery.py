"""Delivery from the spool: pick a due batch, pace, pack, send, and settle each signal's fate.

One `step()` does one thing (expire, send one request, or say how long to wait), so the
loop that calls it owns waiting and shutdown, and tests can drive it with a fake clock.

    delivered (2xx)      ack: the signals leave the spool
    retry (429/5xx/net)  back to the spool with a next attempt time; all sending pauses for
                         the server's Reset or the backoff (one failing org, one pause)
    rejected (400)       split in halves until the guilty subjects stand alone; dead-letter them
    stop (401/403/404)   signals go back untouched; delivery pauses for this process
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import requests

from okta_risk_output.batching import batch_due
from okta_risk_output.clock import Clock
from okta_risk_output.deadletter import DeadLetterFile
from okta_risk_output.errors import DeliveryStopped, ExitStatus
from okta_risk_output.logs import log
from okta_risk_output.metrics import Counters
from okta_risk_output.okta import OktaClient
from okta_risk_output.packing import PackLimits, Signal, pack, request_body
from okta_risk_output.ratelimit import RateLimiter, read_budget
from okta_risk_output.retry import Action, Outcome, RetryPolicy, classify
from okta_risk_output.spool import Lease, Spool
from okta_risk_output.validation import SchemaError, request_validator

__all__ = ["Deliverer"]

_PREPARE_AHEAD = 0.2
"""Seconds before a request's turn when its signals are leased and packed."""


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
        packing: PackLimits,
        linger: float,
        lease_seconds: float,
        on_request: Callable[[str, float], None] | None = None,
    ) -> None:
        self._on_request = on_request
        """Told each request's outcome (delivered, retry, rejected, stop) and seconds."""
        self._client = client
        self._spool = spool
        self._limiter = limiter
        self._policy = policy
        self._dead_letter = dead_letter
        self._counters = counters
        self._clock = clock
        self._stop = stop
        self._packing = packing
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
        full = self._packing.max_signals
        ready, oldest, upcoming = self._spool.ready(now, at_most=full)
        if ready == 0:
            return None if upcoming is None else max(0.0, upcoming - now)
        age = now - (oldest if oldest is not None else now)
        if not batch_due(ready, age, max_events=full, linger=self._linger, ended=input_ended):
            return self._linger - age
        wait = self._limiter.delay()
        if wait > _PREPARE_AHEAD:
            return wait - _PREPARE_AHEAD
        # The request is chosen and packed just before its turn, not after it: that work
        # would otherwise stretch every interval. Within a level, a signal that would expire
        # before its turn goes first; the spool estimates that turn from what is ahead of it.
        horizon = now + (ready // full + 1) * self._limiter.rate.interval
        lease = self._spool.lease(now, self._lease_seconds, self._choose, expiring_before=horizon)
        if lease is not None:
            self._deliver(lease)
        return 0.0

    def _choose(self, candidates: list[Signal]) -> list[Signal]:
        events, _ = pack(candidates, self._packing)
        return [signal for members in events for signal in members]

    def _turn(self, now: float) -> float:
        """0 when a request may go now (and the shared slot is then taken), else the wait."""
        wait = self._limiter.delay()
        if wait > 0:
            return wait
        return self._spool.claim_send_slot(now, self._limiter.rate.interval)

    # -- one lease -----------------------------------------------------------------------

    def _deliver(self, lease: Lease) -> None:
        parts = [lease.signals]
        while parts:
            part = parts.pop()
            # Every request waits for its turn: the first, and the halves of a rejected one.
            if not self._wait_for_turn():
                self._spool.release(_with_rest(part, parts))
                return
            if part is not lease.signals:
                self._spool.extend(lease, self._clock.time(), self._lease_seconds)
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
                    "Okta rejected a request of %d signals (%s); splitting it to find the bad ones",
                    len(part),
                    outcome.reason,
                )
            elif outcome.action is Action.REJECTED:
                self._failures = 0
                removed = self._dead_letter_signals(
                    part, "rejected_by_okta", outcome.causes or (outcome.reason,)
                )
                self._counters.add(rejected=removed)
            elif outcome.action is Action.RETRY:
                self._retry_later(_with_rest(part, parts), outcome)
                return
            elif self._renew_once(outcome):
                parts.append(part)  # the same signals again, with a fresh credential
            else:
                self._pause(_with_rest(part, parts), outcome)
                return

    def _send(self, part: list[Signal]) -> Outcome:
        events, left = pack(part, self._packing)
        assert not left, "a part of a packed lease always packs again"
        body = request_body(events)
        problems = request_validator().errors(body)
        if problems:
            # Cannot happen for signals that passed intake; if it does, no request is
            # spent on it: the same bisection isolates the culprit and dead-letters it.
            causes = tuple(f"{e.path}: {e.message}" for e in problems)
            return Outcome(Action.REJECTED, "the request body fails the schema", causes=causes)
        self._limiter.started()
        started = self._clock.time()
        started_mono = self._clock.monotonic()
        response: requests.Response | None = None
        error: Exception | None = None
        try:
            response = self._client.post(body)
        except requests.RequestException as exc:
            error = exc
        except DeliveryStopped as exc:  # the OAuth token endpoint refused us for good
            self._limiter.finished()
            return Outcome(Action.STOP, str(exc), exc.status_code, exit_status=exc.exit_status)
        except (ValueError, UnicodeError):
            # The credential cannot go in a header. Not quoted: the error would quote it.
            self._limiter.finished()
            reason = "the credential cannot be sent in an HTTP header (invalid characters)"
            return Outcome(Action.STOP, reason, exit_status=ExitStatus.AUTH_FAILED)
        budget = None if response is None else read_budget(response, self._clock.time())
        gap = self._limiter.finished(budget)
        if gap is not None and gap > self._limiter.rate.interval:
            # Okta's budget is tighter than ours (another client of the org spends it):
            # every process sharing the spool slows down.
            self._spool.defer_sending(started + gap)
        self._counters.add(requests=1)
        outcome = classify(
            response,
            error,
            reset_wait_max=self._policy.reset_wait_max,
            oauth=self._client.auth.renewable,
        )
        if self._on_request is not None:
            self._on_request(outcome.action.value, self._clock.monotonic() - started_mono)
        return outcome

    def budget(self) -> dict[str, float] | None:
        """Okta's rate budget as its last answer left it, for metrics and progress."""
        budget = self._limiter.last_budget()
        if budget is None:
            return None
        return {"limit": budget.limit, "remaining": budget.remaining, "reset_in": budget.reset_in}

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

    def _retry_later(self, signals: list[Signal], outcome: Outcome) -> None:
        now = self._clock.time()
        # The server's word (a 429's Reset) beats our own backoff.
        wait = outcome.wait
        delay = wait if wait is not None else self._policy.backoff(self._failures)
        self._failures += 1
        self._counters.add(retries=1, throttled=int(outcome.status == 429))
        # One org, one pause: every request waits, not only this batch, in every process.
        self._limiter.block_for(delay)
        self._spool.defer_sending(now + delay)
        max_age = self._policy.max_retry_age
        if max_age is not None:
            too_old = [s for s in signals if now - (s.first_failure_at or now) >= max_age]
            if too_old:
                reason = f"gave up after retrying for at least {max_age:g}s: {outcome.reason}"
                self._counters.add(gave_up=self._dead_letter_signals(too_old, "gave_up", (reason,)))
                signals = [s for s in signals if s not in too_old]
        log.warning("%s; retrying in %.1fs", outcome.reason, delay)
        self._spool.retry_later(signals, now=now, at=now + delay, error=outcome.reason)

    def _pause(self, signals: list[Signal], outcome: Outcome) -> None:
        self._spool.release(signals, error=outcome.reason)
        self.stopped = outcome
        log.error(
            "delivery stopped: %s; %d signals stay in the spool %s until this is fixed",
            outcome.reason,
            self._spool.live(),
            self._spool.path,
        )

    def _wait_for_turn(self) -> bool:
        """Wait until a request may go; False on shutdown."""
        while not self._stop.is_set():
            delay = self._turn(self._clock.time())
            if delay <= 0:
                return True
            self._clock.sleep(min(delay, 0.25), self._stop)
        return False

    def _dead_letter_signals(
        self, signals: list[Signal], kind: str, causes: tuple[str, ...]
    ) -> int:
        """Write each to the dead-letter file, then take them out of the spool; returns how
        many were still there to take (another process may have delivered one meanwhile)."""
        prefix = "Okta: " if kind == "rejected_by_okta" else ""
        for signal in signals:
            self._dead_letter.write(
                now=self._clock.time(),
                source=signal.source,
                line=signal.line,
                kind=kind,
                errors=[SchemaError("$", prefix + cause) for cause in causes],
                event=signal.as_event(),
            )
            log.warning(
                "%s line %d: %s %s (%s); dead-lettered",
                signal.source,
                signal.line,
                signal.ip,
                "rejected by Okta" if kind == "rejected_by_okta" else "given up",
                "; ".join(causes),
            )
        # Only once every entry is safely in the dead-letter file do they leave the spool.
        return self._spool.dead(signals)

    def _expire(self, now: float) -> None:
        gone = self._spool.expire(now)
        if gone:
            self._counters.add(expired=len(gone))
            source, line = gone[0]
            log.warning(
                "%d signals expired before they could be sent (first: %s line %d); not sent",
                len(gone),
                source,
                line,
            )


def _with_rest(part: list[Signal], parts: list[list[Signal]]) -> list[Signal]:
    """The signals of `part` and of every part still waiting, in sending order."""
    return part + [s for waiting in reversed(parts) for s in waiting]
