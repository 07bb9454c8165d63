"""The durable queue between intake and delivery: one SQLite file in WAL mode (a `Store`).

It holds *signals*: one row per IP subject, so that requests can be packed with up to
1,000 of them and a repeated IP can be coalesced into the signal already waiting. A signal
is *accepted* once the transaction that stores it has committed: intake's transaction
appends to an inbox with no index (so it costs the same however large the spool), and the
steps of delivery fold the inbox into the indexed signals first (sqlite_fold.py), so they
see every accepted signal, coalesced. It leaves the spool only
when Okta has answered 2xx (ack), when it has been written to the dead-letter file (dead),
when its expiresAt has passed (expire), when a later one for the same IP was merged into
it (coalesced: the later one is counted), or when the overflow policy drops it.
Several processes may share one file: a batch is claimed with a lease (an id and an
expiry); an expired lease, or one whose holder is soundly known to be gone (holders.py),
returns its signals. A lease's signals are settled only by that lease, and nothing merges
into a signal in flight. The pacing of requests lives here too (the token bucket and the
end-to-start window), so processes sharing a spool share Okta's budget.

Times stored here are wall-clock epoch seconds, since processes share them. Every change of
state also updates the running totals in the same transaction, so `status` and the
conservation law never disagree with the rows.

This class owns the connection, its lock and the transactions: each operation below is
one IMMEDIATE transaction (or one read under the lock), and the concurrency guarantees
of docs/guarantees.md rest on exactly these boundaries. The SQL lives with its concern:

    sqlite_file.py    the schema, opening, the mark, damage and moving a file aside
    sqlite_put.py     put (an append to the inbox) and the overflow policy
    sqlite_fold.py    folding the inbox into the signals: coalescing, off intake's commit
    sqlite_leases.py  ready, lease, renew and every fate (ack, dead, retry, release, expire)
    sqlite_sends.py   the shared pacing slot
    sqlite_reads.py   live, totals and status
    sqlite_rows.py    the row helpers they share (removing, counting, meta)
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from okta_risk_output.errors import LocalWriteError
from okta_risk_output.observe.logs import log
from okta_risk_output.spool import (
    sqlite_file,
    sqlite_fold,
    sqlite_leases,
    sqlite_put,
    sqlite_reads,
    sqlite_sends,
)
from okta_risk_output.spool.holders import holder_is_dead, new_lease_id
from okta_risk_output.spool.signals import Signal
from okta_risk_output.spool.sqlite_rows import bump
from okta_risk_output.spool.store import Lease, PutResult, SpoolPolicy, Store

__all__ = ["Spool"]


class Spool:
    """One process's connection to a spool file; safe to share between its threads.

    `read_only` (for `status`): nothing is created, moved or changed; a missing file, a
    file that is not a spool, a newer or a damaged one is a LocalWriteError. `check` (read
    only, for `status --check`): read every page to find damage (sqlite_file.py says what
    an open checks otherwise). `on_coalesced(n)`: told, once committed, of the signals this
    connection merged while folding the inbox (a put that appends merges nothing yet).
    """

    def __init__(
        self,
        path: str,
        *,
        policy: SpoolPolicy | None = None,
        sync: str = "normal",
        max_pages: int | None = None,
        read_only: bool = False,
        check: bool = False,
        on_coalesced: Callable[[int], None] | None = None,
    ) -> None:
        self.path = path
        self.policy = policy or SpoolPolicy()
        self._lock = threading.RLock()
        self._closed = False
        self._on_coalesced = on_coalesced
        self._shared_lock: int | None = None
        self.moved_aside: str | None = None
        """Where a damaged spool file was moved on open, if it was."""
        try:
            if read_only:
                self._db = sqlite_file.open_read_only(path, check=check)
            else:
                self._db, self.moved_aside, self._shared_lock = sqlite_file.open_for_writing(
                    path, sync, max_pages
                )
                if self.moved_aside is not None:
                    with self._write() as db:
                        bump(db, "damaged_spools_moved_aside", 1, table="meta")
        except (OSError, sqlite3.Error, sqlite_file.Damaged, sqlite_file.NotOurs) as exc:
            # Not damage we may repair (a permission, a locked file, a file that is not
            # ours, a newer version): the file may hold accepted events, so it is left
            # exactly where it is and the run stops.
            self._unlock()
            raise LocalWriteError(f"cannot open the spool {path}: {exc}") from exc
        if not read_only:
            self._release_leases_of_dead_processes()

    def _unlock(self) -> None:
        if self._shared_lock is not None:
            os.close(self._shared_lock)
            self._shared_lock = None

    # -- transactions --------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction; a full disk becomes LocalWriteError, never silence."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise LocalWriteError(f"cannot write the spool {self.path}: {exc}") from exc

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """Reads that must agree: one read transaction (a WAL snapshot), writing nothing."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                yield self._db
            finally:
                self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._db.close()
                self._unlock()

    # -- intake --------------------------------------------------------------------------

    def put(self, event: dict[str, Any], *, source: str, line: int, now: float) -> PutResult:
        """Store one validated event; when this returns accepted=True, it is durable."""
        results = self.put_many([(event, source, line)], now=now)
        return results[0] if results else PutResult(accepted=False)

    def put_many(
        self, items: Sequence[tuple[dict[str, Any], str, int]], *, now: float
    ) -> list[PutResult]:
        """Store (event, source, line) items in one transaction: all durable on return.

        One commit for many lines is what makes intake fast (a commit writes several pages).
        Under the `block` policy the first refusal ends the batch: the caller waits for
        room and offers the rest again, so results may be fewer than items.
        """
        with self._write() as db:
            appended = sqlite_put.append(db, self.policy, items, now)
        if appended is not None:
            return appended
        # Full, as far as the gauges know: they count the inbox unmerged, so the overflow
        # policy decides on the spool folded (a long inbox in slices first), subject by
        # subject.
        with self._folded() as db:
            return sqlite_put.put_each(db, self.policy, items, now)

    def has_room(self, event: dict[str, Any]) -> bool:
        """For the `block` policy: whether `event` would fit now. The gauges count the
        inbox unmerged, so before saying no, the inbox is folded and asked again."""
        with self._lock:
            if sqlite_put.has_room(self._db, self.policy, event):
                return True
            if not sqlite_fold.inbox_rows(self._db):
                return False
        with self._folded():
            pass
        with self._lock:
            return sqlite_put.has_room(self._db, self.policy, event)

    def _fold_long_inbox(self) -> None:
        """Fold the inbox in slices, each its own transaction, so that other processes'
        intake commits between them (sqlite_fold.py), until what is left fits one slice:
        the step that asked folds that in its own transaction. The rounds are bounded by
        the inbox as it is now (and two more), so an intake faster than the fold cannot
        keep a step waiting for ever."""
        with self._lock:
            rows = sqlite_fold.inbox_rows(self._db)
        for _ in range(rows // sqlite_fold.SLICE + 2):
            if rows <= sqlite_fold.SLICE:
                return
            with self._write() as db:
                merged = sqlite_fold.fold(db, limit=sqlite_fold.SLICE)[1]
                rows = sqlite_fold.inbox_rows(db)
            self._coalesced(merged)

    @contextmanager
    def _folded(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction that first folds the whole inbox (after the slices
        folded outside it), so that the step inside sees every accepted signal."""
        self._fold_long_inbox()
        with self._write() as db:
            merged = sqlite_fold.fold(db)[1]
            yield db
        self._coalesced(merged)

    def _coalesced(self, merged: int) -> None:
        if merged and self._on_coalesced is not None:
            self._on_coalesced(merged)

    def could_ever_hold(self, event: dict[str, Any]) -> bool:
        """Whether `event` fits even an empty spool (else `block` would wait for ever)."""
        return sqlite_put.could_ever_hold(self.policy, event)

    # -- delivery ------------------------------------------------------------------------
    # Every settling change (ack, dead, retry_later, release, renew) touches only rows still
    # held by the caller's lease. A process whose lease ran out, and whose signals another
    # process has taken over since, changes nothing: it is told so by the count returned.

    def ready(self, now: float, at_most: int) -> tuple[int, float | None, float | None]:
        """(signals ready to send now, counted up to `at_most`; accepted_at of the oldest of
        them; the next retry time). Cheap on a large spool: nothing is counted past at_most."""
        with self._snapshot() as db:
            return sqlite_leases.ready(db, now, at_most)

    def lease(
        self,
        now: float,
        seconds: float,
        choose: Callable[[list[Signal]], list[Signal]],
        *,
        expiring_before: float | None = None,
        below_rank: int | None = None,
    ) -> Lease | None:
        """Claim the ready signals `choose` picks from the candidates, in priority order:
        highest risk first; within a level, those expiring before `expiring_before` (they
        would expire while waiting their turn) soonest first, then the oldest. With
        `below_rank`, only signals of a higher risk than that rank are candidates."""
        lease = Lease(id=new_lease_id(seconds), expires=now + seconds)
        with self._folded() as db:
            chosen = sqlite_leases.take(
                db, lease, now, choose, expiring_before=expiring_before, below_rank=below_rank
            )
        if not chosen:
            return None
        lease.signals = chosen
        return lease

    def renew(
        self, lease: Lease, now: float, seconds: float, signals: Sequence[Signal] | None = None
    ) -> list[Signal]:
        """Extend the lease on `signals` (all of the lease's by default); returns those it
        still holds, the only ones this process may send."""
        wanted = list(lease.signals if signals is None else signals)
        lease.expires = now + seconds
        with self._write() as db:
            held = sqlite_leases.renew(db, lease, [s.id for s in wanted])
        return [s for s in wanted if s.id in held]

    def ack(self, lease: Lease, signals: Sequence[Signal]) -> int:
        """Okta took these: remove them. Returns how many this lease still held."""
        with self._write() as db:
            return sqlite_leases.ack(db, lease, [s.id for s in signals])

    def dead(self, lease: Lease, signals: Sequence[Signal]) -> int:
        """These were written to the dead-letter file: remove them (those still held)."""
        with self._write() as db:
            return sqlite_leases.dead(db, lease, [s.id for s in signals])

    def retry_later(
        self, lease: Lease, signals: Sequence[Signal], *, now: float, at: float, error: str
    ) -> int:
        """Back to waiting until `at`, one attempt more; returns how many were still held."""
        with self._folded() as db:  # so that they merge into what came meanwhile
            return sqlite_leases.retry_later(
                db, self.policy, lease, [s.id for s in signals], now=now, at=at, error=error
            )

    def release(self, lease: Lease, signals: Sequence[Signal], *, error: str | None = None) -> int:
        """Give signals back untouched (shutdown, or delivery paused by a 401/403/404)."""
        with self._folded() as db:  # so that they merge into what came meanwhile
            return sqlite_leases.release(
                db, self.policy, lease, [s.id for s in signals], error=error
            )

    def expire(self, now: float) -> list[tuple[str, int]]:
        """Remove signals whose expiresAt has passed; returns their (source, line)."""
        with self._folded() as db:
            return sqlite_leases.expire(db, now)

    def cap_stored_times(self, now: float, *, retry: float, lease: float) -> int:
        """Stored times further ahead than their bound count as the bound from now: a retry
        time more than `retry` ahead (the longest backoff or Reset wait), a lease expiring
        further ahead than its length (the one its id names; `lease` for ids of older
        versions). They come from a clock that was ahead, or a holder that asked for too
        much. Returns how many rows were corrected."""
        with self._write() as db:
            retries, leases = sqlite_leases.cap_stored_times(db, now, retry=retry, lease=lease)
        if retries or leases:
            log.warning(
                "%d retry times and %d lease expiries in the spool lay further ahead than"
                " they can (a clock that was ahead?); counting them from now",
                retries,
                leases,
            )
        return retries + leases

    def _release_leases_of_dead_processes(self) -> None:
        """Leases whose holder is soundly known to be gone return at once (holders.py);
        any other lease returns when it expires."""
        with self._lock:
            holders = sqlite_leases.lease_ids(self._db)
        dead = [h for h in holders if holder_is_dead(h)]
        if dead:
            with self._folded() as db:  # so that they merge into what came meanwhile
                sqlite_leases.free(db, self.policy, dead)

    # -- the shared pacing slot (sqlite_sends.py) ----------------------------------------

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
        """Shared pacing for every process on this spool: (0, slot) when this one may send
        now, else (seconds to wait, None). Two rules, both from ratelimit.py:

        - the token bucket: the next token is taken for every process (`interval` apart);
        - the window: at most `limit` requests per `window` from the end of one to the
          start of a later one. A request still in flight counts as ending as late as it
          can (`hold` after its start) until `finish_send` records its end.

        A stored time further ahead than `longest` (a clock that was ahead, a bad header
        from an older version) counts as `longest` from now, and is rewritten so.
        """
        with self._write() as db:
            return sqlite_sends.claim(
                db, now, interval, window=window, limit=limit, hold=hold, longest=longest
            )

    def finish_send(self, slot: int, now: float) -> None:
        """The request of `slot` has ended (answered or not)."""
        with self._write() as db:
            sqlite_sends.finish(db, slot, now)

    def defer_sending(self, until: float) -> None:
        """No process sharing the spool sends before `until` (Okta said wait)."""
        with self._write() as db:
            sqlite_sends.defer(db, until)

    # -- reading -------------------------------------------------------------------------

    def live(self) -> int:
        """Signals still in the spool, in any state."""
        with self._lock:
            return sqlite_reads.live(self._db)

    def totals(self) -> dict[str, int]:
        with self._lock:
            return sqlite_reads.totals(self._db)

    def status(self, now: float) -> dict[str, Any]:
        with self._snapshot() as db:  # so that its figures add up
            return sqlite_reads.status(db, self.path, now)


if TYPE_CHECKING:
    _IS_A_STORE: type[Store] = Spool
    """mypy checks here that the SQLite spool keeps the whole contract of store.py."""
