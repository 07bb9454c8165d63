"""What becomes of a lease's signals once their request is answered, written down and counted.

The loop (deliverer.py) decides when to send and what an answer calls for; this writes the
fate down: ack what was delivered, dead-letter what Okta condemned or what was retried
for too long, put the rest back for a later attempt, remove what expired. Every change
carries the lease, and only what the lease still holds is changed or written to the
dead-letter file: what another process has taken over meanwhile is left to it
(docs/guarantees.md, Leases), counted here as `taken_over` with one WARN.

Output-neutral: what the dead-letter file keeps of a signal comes from the sink.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from okta_risk_output.clock import Clock
from okta_risk_output.delivery.retry import Outcome
from okta_risk_output.delivery.sink import Sink
from okta_risk_output.errors import SchemaError
from okta_risk_output.intake.deadletter import DeadLetterFile
from okta_risk_output.observe.counters import Counters
from okta_risk_output.observe.logs import log
from okta_risk_output.spool.signals import Signal
from okta_risk_output.spool.store import Lease, Store

__all__ = ["Settler"]


class Settler:
    def __init__(
        self,
        *,
        spool: Store,
        sink: Sink[Any],
        dead_letter: DeadLetterFile,
        counters: Counters,
        clock: Clock,
        lease_seconds: float,
    ) -> None:
        self._spool = spool
        self._sink = sink
        self._dead_letter = dead_letter
        self._counters = counters
        self._clock = clock
        self._lease_seconds = lease_seconds
        self._late_noted = False

    def delivered(self, lease: Lease, signals: list[Signal]) -> None:
        delivered = self._spool.ack(lease, signals)
        self.note_late(len(signals) - delivered)
        self._counters.add(delivered=delivered)

    def condemn(
        self,
        lease: Lease,
        signals: list[Signal],
        outcome: Outcome,
        named: dict[int, list[str]] | None = None,
        *,
        causes: tuple[str, ...] | None = None,
    ) -> int:
        """Dead-letter what Okta refused, each with the causes naming it (`named`), else
        `causes`, else the answer's; returns how many left the spool."""
        held = self._spool.renew(lease, self._clock.time(), self._lease_seconds, signals)
        self.note_late(len(signals) - len(held))
        default = causes if causes is not None else (outcome.causes or (outcome.reason,))
        return self._dead_letter_signals(
            lease,
            held,
            "rejected_by_okta",
            lambda s: tuple(named[s.id]) if named and s.id in named else default,
        )

    def retry_later(
        self,
        lease: Lease,
        signals: list[Signal],
        outcome: Outcome,
        *,
        now: float,
        delay: float,
        max_age: float | None,
    ) -> None:
        """Back to the spool, to be tried again `delay` from `now`; first dead-letter those
        that have been failing for `max_age` (--max-retry-age) or longer."""
        if max_age is not None:
            too_old = [s for s in signals if now - (s.first_failure_at or now) >= max_age]
            # Only those still held: a lease that ran out may have been taken over.
            too_old = self._spool.renew(lease, now, self._lease_seconds, too_old)
            if too_old:
                reason = f"gave up after retrying for at least {max_age:g}s: {outcome.reason}"
                gave_up = self._dead_letter_signals(lease, too_old, "gave_up", lambda _: (reason,))
                self._counters.add(gave_up=gave_up)
                signals = [s for s in signals if s not in too_old]
        log.warning("%s; retrying in %.1fs", outcome.reason, delay)
        back = self._spool.retry_later(
            lease, signals, now=now, at=now + delay, error=outcome.reason
        )
        self.note_late(len(signals) - back)

    def expire(self, now: float) -> None:
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

    def note_late(self, lost: int) -> None:
        """Some signals of a lease were no longer held by it when it came to settle them."""
        if lost <= 0:
            return
        self._counters.add(taken_over=lost)
        if self._late_noted:
            log.debug("%d more signals were no longer held by this process's lease", lost)
            return
        self._late_noted = True
        log.warning(
            "%d signals were no longer held by this process's lease when it settled them:"
            " another process sharing the spool took them over (this one was paused or slow"
            " past the lease), or they expired; nothing changed in the spool for them here,"
            " and Okta may receive them twice",
            lost,
        )

    def _dead_letter_signals(
        self,
        lease: Lease,
        signals: list[Signal],
        kind: str,
        causes_of: Callable[[Signal], tuple[str, ...]],
    ) -> int:
        """Write each to the dead-letter file, then take them out of the spool; returns how
        many were still there to take (another process may have delivered one meanwhile)."""
        prefix = "Okta: " if kind == "rejected_by_okta" else ""
        for signal in signals:
            causes = causes_of(signal)
            self._dead_letter.write(
                now=self._clock.time(),
                source=signal.source,
                line=signal.line,
                kind=kind,
                errors=[SchemaError("$", prefix + cause) for cause in causes],
                event=self._sink.record_of(signal),
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
        removed = self._spool.dead(lease, signals)
        self.note_late(len(signals) - removed)
        return removed
