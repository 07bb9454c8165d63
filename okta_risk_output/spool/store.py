"""The spool's contract: what intake, delivery and `status` may ask of any backend.

`Store` lists the operations they use; `Spool` (sqlite.py, one SQLite file) is the
backend today, and another (a Redis spool shared by many machines) must keep the same
promises, so that one behaviour suite can check both:

- **One waiting signal per IP.** A subject whose IP already has a signal waiting (not in
  flight, accepted within the coalescing window) merges into it (subjects.py has the
  rule); a signal that comes back to waiting (retry, release) merges into one that arrived
  for its IP meanwhile. Nothing ever merges into a signal in flight. A backend may merge
  later than the put (SQLite appends to an inbox and merges when it folds it), provided
  every lease, expire, retry_later and release first sees the merges of everything
  accepted before it, made as they would have been on arrival; `status`'s `inbox` counts
  what is not merged yet, and `coalesced` counts a merge when it is made.
- **Priority.** `lease` hands out ready signals highest risk first; within a level, those
  that would expire while waiting their turn, soonest first; then the oldest.
- **Leases.** A lease has an id naming its holder (holders.py) and an expiry. An expired
  lease's signals are ready again; so are those of a holder soundly known to be gone.
  Every settling operation (renew, ack, dead, retry_later, release) changes only what the
  caller's lease still holds and returns how much that was: a lease that ran out and was
  taken over changes nothing.
- **Overflow.** When full (`SpoolPolicy.max_events`, or `max_bytes` as
  subjects.signal_size counts), `drop-lowest-risk` drops the oldest of the lowest level,
  never one in flight and never a signal riskier than the newcomer (when lower-risk
  signals in flight are what fills it, the newcomer is taken over the cap); `reject-new`
  and `block` refuse the new event whole.
- **Atomic steps and the conservation law.** Each operation that changes the store is one
  atomic step, and the running totals change in that same step, so between steps, for all
  processes sharing the store: accepted = delivered + dead_lettered + expired + dropped +
  coalesced + `live()`.
- **One pacing budget.** The shared send slot (`claim_send_slot`) paces every process of
  the store as one sender (delivery/ratelimit.py has the rules it shares).
- **Looking changes nothing.** `ready`, `live`, `totals` and `status` only read. `ready`
  and `status` each read one snapshot (SQLite: one read transaction), so a step taken by
  another process cannot hide rows between two of their reads or unbalance the
  conservation law they show; two separate calls may of course see different states.

Times are wall-clock epoch seconds: processes (and machines) share them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from okta_risk_output.spool.signals import Signal

__all__ = ["OVERFLOW_POLICIES", "TOTALS", "Lease", "PutResult", "SpoolPolicy", "Store"]

OVERFLOW_POLICIES = ("drop-lowest-risk", "block", "reject-new")
TOTALS = ("accepted", "delivered", "dead_lettered", "expired", "dropped", "coalesced")
"""The running totals since the store was created: the terms of the conservation law."""


@dataclass(frozen=True)
class SpoolPolicy:
    max_events: int = 1_000_000
    """Most signals held (one per IP subject)."""
    max_bytes: int = 512 * 1024 * 1024
    overflow: str = "drop-lowest-risk"
    coalesce: bool = True
    coalesce_window: float | None = None
    """Merge a repeated IP only into a signal accepted this recently; None: while it waits."""


@dataclass(frozen=True)
class PutResult:
    accepted: bool
    """False when the overflow policy refused the new event (reject-new, or it ranked lowest)."""
    evicted: int = 0
    """Older signals dropped to make room (drop-lowest-risk)."""
    coalesced: int = 0
    """Subjects merged into a signal already waiting for the same IP by this put (a
    backend that merges when it folds its inbox reports those merges to its owner)."""


@dataclass
class Lease:
    id: str
    expires: float
    signals: list[Signal] = field(default_factory=list)


class Store(Protocol):
    """A spool as its users see it; safe to share between the threads of one process."""

    @property
    def path(self) -> str:
        """Where the spool is, as the user named it: for log lines and `status`."""
        ...

    @property
    def policy(self) -> SpoolPolicy: ...

    # -- intake --------------------------------------------------------------------------

    def put_many(
        self, items: Sequence[tuple[dict[str, Any], str, int]], *, now: float
    ) -> list[PutResult]:
        """Store validated RiskEvents, given as (event, source, line), in one atomic step:
        all durable when it returns, every subject a signal or merged into one (now, or at
        the next fold: PutResult.coalesced counts only the merges made now).

        Under drop-lowest-risk an event is accepted when any of its subjects was kept (the
        others count as accepted and dropped); under block and reject-new only whole, a
        refused subject refusing its event. Under block the first refusal ends the batch:
        the results are then fewer than the items, and the caller offers the rest again
        once `has_room` says so.
        """
        ...

    def has_room(self, event: dict[str, Any]) -> bool:
        """For the block policy: whether `event` would fit now, were nothing merged."""
        ...

    def could_ever_hold(self, event: dict[str, Any]) -> bool:
        """Whether `event` fits even an empty spool (else waiting for room never ends)."""
        ...

    # -- delivery ------------------------------------------------------------------------

    def ready(self, now: float, at_most: int) -> tuple[int, float | None, float | None]:
        """(signals ready now, counted up to `at_most`; accepted_at of the oldest ready
        one; the next retry time of any signal, or None). Cheap however large the spool."""
        ...

    def lease(
        self,
        now: float,
        seconds: float,
        choose: Callable[[list[Signal]], list[Signal]],
        *,
        expiring_before: float | None = None,
        below_rank: int | None = None,
    ) -> Lease | None:
        """In one atomic step: offer `choose` the ready signals in priority order (a bounded
        number of them), and lease what it returns for `seconds` under a new lease id.
        `expiring_before` marks what would expire waiting (it goes first within its level);
        `below_rank` offers only signals riskier than that rank. None when nothing was
        chosen."""
        ...

    def renew(
        self, lease: Lease, now: float, seconds: float, signals: Sequence[Signal] | None = None
    ) -> list[Signal]:
        """Extend the lease to now + `seconds` on `signals` (all of the lease's by default);
        returns those it still holds, the only ones the caller may send or dead-letter."""
        ...

    def ack(self, lease: Lease, signals: Sequence[Signal]) -> int:
        """Delivered: remove them (counted `delivered`) and clear the last error. Returns
        how many the lease still held."""
        ...

    def dead(self, lease: Lease, signals: Sequence[Signal]) -> int:
        """Written to the dead-letter file: remove them (counted `dead_lettered`). Returns
        how many the lease still held."""
        ...

    def retry_later(
        self, lease: Lease, signals: Sequence[Signal], *, now: float, at: float, error: str
    ) -> int:
        """Back to waiting until `at`, one attempt more (the first failure's time kept), then
        merged into a signal now waiting for the same IP; `error` becomes the last error.
        Returns how many the lease still held."""
        ...

    def release(self, lease: Lease, signals: Sequence[Signal], *, error: str | None = None) -> int:
        """Back to waiting untouched (shutdown, delivery paused), merged as in retry_later;
        `error`, when given, becomes the last error. Returns how many the lease still held."""
        ...

    def expire(self, now: float) -> list[tuple[str, int]]:
        """Remove the signals whose expiresAt has passed and that are not in flight under a
        live lease (counted `expired`); returns their (source, line)."""
        ...

    def cap_stored_times(self, now: float, *, retry: float, lease: float) -> int:
        """Count a retry time more than `retry` ahead, or a lease expiry further ahead than
        its length (the one its id names; `lease` for ids that name none), as that bound
        from now, and store it so. Returns how many were corrected."""
        ...

    def claim_send_slot(
        self,
        now: float,
        interval: float,
        *,
        window: float | None = None,
        limit: int | None = None,
        hold: float = 60.0,
        longest: float = 600.0,
    ) -> tuple[float, int | None]:
        """The shared pacing, in one atomic step: (0, slot) when this process may start a
        request now (the next token, `interval` later, is then taken for every process),
        else (seconds to wait, None). With `window` and `limit`: at most `limit` requests
        from the end of one to the start of a later one within `window`; a request in
        flight counts as ending `hold` after its start until `finish_send`. A stored time
        further ahead than `longest` counts as `longest` from now."""
        ...

    def finish_send(self, slot: int, now: float) -> None:
        """The request of `slot` ended now (answered or not)."""
        ...

    def defer_sending(self, until: float) -> None:
        """No process of this store may start a request before `until` (Okta said wait);
        an earlier time never replaces a later one."""
        ...

    # -- status --------------------------------------------------------------------------

    def live(self) -> int:
        """Signals in the spool, in any state."""
        ...

    def totals(self) -> dict[str, int]:
        """The running totals (TOTALS), with any gauges a backend keeps beside them."""
        ...

    def status(self, now: float) -> dict[str, Any]:
        """What `status`, the metrics and the progress line show: spool, signals,
        bytes_of_signals, file_bytes, by_risk_level, inbox (of the signals, those accepted
        but not yet coalesced: 0 for a backend that merges on put), in_flight,
        waiting_retry, oldest_age_seconds, last_error, damaged_spools_moved_aside, totals
        (TOTALS only), schema_version. Cheap however large the spool."""
        ...

    def close(self) -> None:
        """Closing twice is harmless."""
        ...
