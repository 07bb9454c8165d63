"""Delivery from the spool: pick a due batch, pace, send through the sink, settle each fate.

One `step()` does one thing (expire, send one request, or say how long to wait), so the
loop that calls it owns waiting and shutdown, and tests can drive it with a fake clock.

    delivered (2xx)      ack: the signals leave the spool
    retry (429/5xx/net)  back to the spool with a next attempt time; all sending pauses for
                         the server's Reset or the backoff (one failing org, one pause);
                         after 5 answers in a row not from Okta (a proxy's page), stop
    rejected (Okta 400)  dead-letter the subjects its causes name; else split the request
                         until the guilty stand alone, judging a whole-request failure in
                         about log2(n) requests (rejection.py)
    stop (401/403/404)   signals go back untouched; delivery pauses for this process

This is the loop every output shares: what is specific to an endpoint (how a request is
filled, built and sent, what its answers mean) is behind the `Sink` (sink.py; Okta's
risk-events endpoint is risk_events.py), and writing each fate down is settling.py.
Every settling change carries the lease: what another process has taken over meanwhile
is left to it (docs/guarantees.md, Leases).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from okta_risk_output.clock import NO_WAIT, Clock
from okta_risk_output.delivery.backoff import RetryPolicy
from okta_risk_output.delivery.batching import batch_due
from okta_risk_output.delivery.ratelimit import RateLimiter
from okta_risk_output.delivery.rejection import Search
from okta_risk_output.delivery.retry import Action, Outcome
from okta_risk_output.delivery.settling import Settler
from okta_risk_output.delivery.sink import Sink
from okta_risk_output.errors import ExitStatus
from okta_risk_output.intake.deadletter import DeadLetterFile
from okta_risk_output.observe.counters import Counters
from okta_risk_output.observe.logs import log
from okta_risk_output.spool.signals import Signal
from okta_risk_output.spool.store import Lease, Store

__all__ = ["Deliverer"]

_PREPARE_AHEAD = 0.2
"""Seconds before a request's turn when its signals are leased and packed."""
_FOREIGN_LIMIT = 5
"""Answers in a row from something other than Okta before delivery stops (exit 7)."""
_CAP_EVERY = 60.0
"""How often (seconds) stored retry and lease times are checked against their bounds."""


class Deliverer:
    def __init__(
        self,
        *,
        sink: Sink[Any],
        spool: Store,
        limiter: RateLimiter,
        policy: RetryPolicy,
        dead_letter: DeadLetterFile,
        counters: Counters,
        clock: Clock,
        stop: threading.Event,
        linger: float,
        lease_seconds: float,
        on_request: Callable[[str, float], None] | None = None,
    ) -> None:
        self._on_request = on_request
        """Told each request's outcome (delivered, retry, rejected, stop) and seconds."""
        self._sink = sink
        self._spool = spool
        self._limiter = limiter
        self._policy = policy
        self._counters = counters
        self._clock = clock
        self._stop = stop
        self._linger = linger
        self._lease_seconds = lease_seconds
        self._settle = Settler(
            spool=spool,
            sink=sink,
            dead_letter=dead_letter,
            counters=counters,
            clock=clock,
            lease_seconds=lease_seconds,
        )
        self._failures = 0
        """Consecutive retryable failures, for the backoff; reset by any success."""
        self._renewed = False
        """Whether the credential was renewed after the last 401; a second 401 stops."""
        self.stopped: Outcome | None = None
        """Set when Okta refused us for good (401, 403, 404...): delivery is paused."""
        self._held: list[Lease] = []
        """Leases being delivered now (more than one while higher-risk work goes first)."""
        self._longest_wait = max(policy.reset_wait_max + 2.0, policy.backoff_max)
        """The longest any wait may be: a stored or announced time beyond it is capped."""
        self._capped_at = float("-inf")
        self._foreign = 0
        """Answers in a row that did not come from Okta (a proxy's or WAF's page)."""
        self._last_whole: str | None = None
        """Okta's answer when it last rejected a request as a whole (rejection.py), until
        something is delivered: the same again stops delivery."""
        self._halt: Outcome | None = None

    def step(self, *, input_ended: bool) -> float | None:
        """Do one unit of work. Returns 0 to be called again at once, seconds to wait first,
        or None when nothing is left that this process could deliver."""
        if self.stopped is not None:
            return None
        now = self._clock.time()
        self._settle.expire(now)
        self._cap_stored_times(now)
        full = self._sink.capacity
        ready, oldest, upcoming = self._spool.ready(now, at_most=full)
        if ready == 0:
            return None if upcoming is None else max(0.0, upcoming - now)
        age = now - (oldest if oldest is not None else now)
        if not batch_due(ready, age, max_events=full, linger=self._linger, ended=input_ended):
            return self._linger - age
        early = self._limiter.delay() - _PREPARE_AHEAD
        if early > NO_WAIT:
            return early
        # The request is chosen and packed just before its turn, not after it: that work
        # would otherwise stretch every interval. Within a level, a signal that would expire
        # before its turn goes first; the spool estimates that turn from what is ahead of it.
        horizon = now + (ready // full + 1) * self._limiter.rate.interval
        lease = self._spool.lease(
            now, self._lease_seconds, self._sink.choose, expiring_before=horizon
        )
        if lease is not None:
            self._deliver(lease)
        return 0.0

    def _turn(self, now: float) -> tuple[float, int | None]:
        """(0, slot) when a request may go now (the shared slot is then taken), else the
        wait: this process's own pacing first, then what every process on the spool shares."""
        wait = self._limiter.delay()
        if wait > 0:
            return wait, None
        rate = self._limiter.rate
        return self._spool.claim_send_slot(
            now,
            rate.interval,
            window=rate.per_seconds,
            limit=rate.requests,
            hold=self._lease_seconds,
            longest=self._longest_wait,
        )

    # -- one lease -----------------------------------------------------------------------

    def _deliver(self, lease: Lease) -> None:
        self._held.append(lease)
        try:
            self._deliver_parts(lease)
        finally:
            self._held.remove(lease)

    def _deliver_parts(self, lease: Lease) -> None:
        parts = [list(lease.signals)]
        search: Search | None = None
        while parts:
            if search is not None and not self._higher_risk_first(parts):
                self._spool.release(lease, _with_rest([], parts))
                return
            part = parts.pop()
            # Every request waits for its turn: the first, and the parts of a rejected one.
            slot = self._wait_for_turn()
            if slot is None:
                self._spool.release(lease, _with_rest(part, parts))
                return
            # Only what this lease still holds may go: a lease that ran out (a process
            # paused past it) may have been taken over, and the other process sends those.
            held = self._spool.renew(lease, self._clock.time(), self._lease_seconds, part)
            self._settle.note_late(len(part) - len(held))
            if not held:
                self._spool.finish_send(slot, self._clock.time())
                continue
            part = held
            outcome = self._send(part, slot)
            outcome = self._judge_foreign(outcome)
            if outcome.action is not Action.STOP:
                self._renewed = False
            if outcome.action is Action.DELIVERED:
                self._failures = 0
                self._last_whole = None
                if search is not None:
                    search.ruled_out()
                self._settle.delivered(lease, part)
            elif outcome.action is Action.REJECTED:
                self._failures = 0
                search = self._rejected(lease, part, parts, outcome, search)
                if self._halt is not None:
                    self._pause(lease, _with_rest([], parts), self._halt)
                    return
            elif outcome.action is Action.RETRY:
                self._retry_later(lease, _with_rest(part, parts), outcome)
                return
            elif self._renew_once(outcome):
                parts.append(part)  # the same signals again, with a fresh credential
            else:
                self._pause(lease, _with_rest(part, parts), outcome)
                return

    def _rejected(
        self,
        lease: Lease,
        part: list[Signal],
        parts: list[list[Signal]],
        outcome: Outcome,
        search: Search | None,
    ) -> Search | None:
        """Settle what a 400 condemns and plan the next requests (rejection.py)."""
        answer = _answer(outcome)
        named = self._sink.named_in(part, outcome.every_cause or outcome.causes)
        if named:
            guilty = [s for s in part if s.id in named]
            self._counters.add(rejected=self._settle.condemn(lease, guilty, outcome, named))
            rest = [s for s in part if s.id not in named]
            if rest:
                parts.append(rest)  # sent again at once: they were not what Okta refused
            if search is not None:
                search.ruled_out()
            return search
        if len(part) > 1:
            if search is None:
                search = Search(part, answer)
            else:
                search.rejected(answer)
            middle = len(part) // 2
            parts += [part[middle:], part[:middle]]  # first half goes out first
            log.info(
                "Okta rejected a request of %d signals (%s); splitting it to find the bad ones",
                len(part),
                outcome.reason,
            )
            return search
        self._counters.add(rejected=self._settle.condemn(lease, part, outcome))
        if search is not None and search.single_rejected(part[0], answer, parts):
            if answer == self._last_whole:
                # The same answer for a whole request twice running: that is the org or
                # the credential, not the events. Stop before the backlog follows.
                self._halt = Outcome(
                    Action.STOP,
                    f"{outcome.reason}: Okta rejected two requests in a row as a whole with"
                    " this same answer, single signals too, which says nothing about the"
                    " events; delivery stopped so that nothing more is dead-lettered",
                    outcome.status,
                    exit_status=ExitStatus.UNEXPECTED,
                    request_id=outcome.request_id,
                )
                return search
            self._last_whole = answer
            rest = _with_rest([], parts)
            parts.clear()
            if rest:
                log.warning(
                    "Okta rejects this request as a whole (%s), even one signal at a time;"
                    " dead-lettering the other %d signals of it without trying each",
                    outcome.reason,
                    len(rest),
                )
                whole = (
                    *outcome.causes,
                    "rejected as a whole: the same answer for the full"
                    " request and for single signals of it",
                )
                self._counters.add(
                    rejected=self._settle.condemn(lease, rest, outcome, causes=whole)
                )
        return search

    def _higher_risk_first(self, parts: list[list[Signal]]) -> bool:
        """Between the requests of a long bisection, deliver any ready signals of a higher
        risk than what it still holds, so a search among LOW never keeps a HIGH waiting.
        False on shutdown or when delivery stopped meanwhile."""
        best = min(s.level_rank for members in parts for s in members)
        if best > 0:
            now = self._clock.time()
            other = self._spool.lease(now, self._lease_seconds, self._sink.choose, below_rank=best)
            if other is not None:
                self._deliver(other)
        return self.stopped is None and not self._stop.is_set()

    def _send(self, part: list[Signal], slot: int) -> Outcome:
        """One request; its shared slot is marked finished whatever happens."""
        try:
            return self._post(part)
        finally:
            self._spool.finish_send(slot, self._clock.time())

    def _post(self, part: list[Signal]) -> Outcome:
        request = self._sink.prepare(part)
        if isinstance(request, Outcome):
            return request  # refused before sending: no request spent
        self._limiter.started()
        started = self._clock.time()
        started_mono = self._clock.monotonic()
        answer = self._sink.send(request)
        gap = self._limiter.finished(answer.budget)
        if not answer.sent:
            return answer.outcome
        if gap is not None and gap > self._limiter.rate.interval:
            # Okta's budget is tighter than ours (another client of the org spends it):
            # every process sharing the spool slows down.
            self._spool.defer_sending(started + gap)
        self._counters.add(requests=1)
        outcome = answer.outcome
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
        if outcome.exit_status is not ExitStatus.AUTH_FAILED or self._renewed:
            return False
        if outcome.status not in (400, 401) or not self._sink.renew_credential():
            return False
        self._renewed = True
        log.warning("%s; renewing the access token and trying once more", outcome.reason)
        return True

    def _retry_later(self, lease: Lease, signals: list[Signal], outcome: Outcome) -> None:
        now = self._clock.time()
        # The server's word (a 429's Reset) beats our own backoff.
        wait = outcome.wait
        delay = wait if wait is not None else self._policy.backoff(self._failures)
        self._failures += 1
        self._counters.add(retries=1, throttled=int(outcome.status == 429))
        # One org, one pause: every request waits, not only this batch, in every process.
        self._limiter.block_for(delay)
        self._spool.defer_sending(now + delay)
        self._settle.retry_later(
            lease, signals, outcome, now=now, delay=delay, max_age=self._policy.max_retry_age
        )

    def _pause(self, lease: Lease, signals: list[Signal], outcome: Outcome) -> None:
        self._spool.release(lease, signals, error=outcome.reason)
        self.stopped = outcome
        log.error(
            "delivery stopped: %s; %d signals stay in the spool %s until this is fixed",
            outcome.reason,
            self._spool.live(),
            self._spool.path,
        )

    def _wait_for_turn(self) -> int | None:
        """Wait until a request may go and return its shared slot; None on shutdown. The
        leases held meanwhile are renewed, so that no other process takes their signals
        over while this one waits (a Reset of two minutes is longer than a lease)."""
        while not self._stop.is_set():
            now = self._clock.time()
            for lease in self._held:
                if lease.expires - now < self._lease_seconds / 2:
                    self._spool.renew(lease, now, self._lease_seconds)
            delay, slot = self._turn(now)
            if slot is not None:
                return slot
            self._clock.sleep(min(delay, 0.25), self._stop)
        return None

    def _judge_foreign(self, outcome: Outcome) -> Outcome:
        """An answer that is not Okta's (a proxy or WAF page) is retried; after a few in a
        row, delivery stops and says what answered, with every signal still spooled."""
        if not (outcome.action is Action.RETRY and outcome.foreign):
            self._foreign = 0
            return outcome
        self._foreign += 1
        if self._foreign < _FOREIGN_LIMIT:
            return outcome
        return Outcome(
            Action.STOP,
            f"{outcome.reason}; {self._foreign} answers in a row did not come from Okta:"
            " check the proxy, WAF or load balancer between this host and --org-url",
            outcome.status,
            exit_status=ExitStatus.NOT_OKTA,
            request_id=outcome.request_id,
        )

    def _cap_stored_times(self, now: float) -> None:
        mono = self._clock.monotonic()
        if mono - self._capped_at < _CAP_EVERY:
            return
        self._capped_at = mono
        self._spool.cap_stored_times(now, retry=self._longest_wait, lease=self._lease_seconds)


def _answer(outcome: Outcome) -> str:
    """What identifies an answer, to tell whether two rejections said the same."""
    return " | ".join((str(outcome.status), outcome.reason, *outcome.causes))


def _with_rest(part: list[Signal], parts: list[list[Signal]]) -> list[Signal]:
    """The signals of `part` and of every part still waiting, in sending order."""
    return part + [s for waiting in reversed(parts) for s in waiting]
