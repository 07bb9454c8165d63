"""The durable queue between intake and delivery: one SQLite file in WAL mode.

It holds *signals*: one row per IP subject, so that requests can be packed with up to
1,000 of them and a repeated IP can be coalesced into the signal already waiting. A signal
is *accepted* once the transaction that stores it has committed. It leaves the spool only
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
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from okta_risk_output.clock import NO_WAIT
from okta_risk_output.errors import LocalWriteError
from okta_risk_output.levels import RISK_LEVELS, risk_rank
from okta_risk_output.observe.logs import log
from okta_risk_output.spool.holders import holder_is_dead, lease_length, new_lease_id
from okta_risk_output.spool.pacing import next_token
from okta_risk_output.spool.signals import Signal
from okta_risk_output.timestamps import epoch_of

__all__ = [
    "APPLICATION_ID",
    "OVERFLOW_POLICIES",
    "SCHEMA_VERSION",
    "Lease",
    "PutResult",
    "Spool",
    "SpoolPolicy",
    "spool_file_kind",
]

SCHEMA_VERSION = 1
APPLICATION_ID = 0x4F4B5253
"""SQLite's application_id of every spool ("OKRS"): the mark that tells our files from
another program's, kept in the header so it is readable even when the rest is damaged."""
OVERFLOW_POLICIES = ("drop-lowest-risk", "block", "reject-new")
TOTALS = ("accepted", "delivered", "dead_lettered", "expired", "dropped", "coalesced")
MESSAGE_MAX = 512
_SHORTEST_LEASE = 30.0
"""No lease is shorter (2 x --timeout + 30 s): expiries nearer than this are never suspect."""
_CANDIDATES = 4000
"""How many ready signals a lease looks at to fill one request."""

# Idempotent, so two processes creating the same new spool at once cannot trip each other.
_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS totals (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    # AUTOINCREMENT: an id is never reused, so a stale lease can never ack or dead-letter
    # a newer signal that happens to get the same id (found by tests/property).
    """CREATE TABLE IF NOT EXISTS signals (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        ip TEXT NOT NULL,
        rank INTEGER NOT NULL,
        message TEXT,
        event_ts REAL,
        expires_at REAL,
        accepted_at REAL NOT NULL,
        next_attempt_at REAL NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        first_failure_at REAL,
        lease_id TEXT,
        lease_expires REAL,
        source TEXT NOT NULL,
        line INTEGER NOT NULL,
        size INTEGER NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS signals_by_priority ON signals (rank, id)",
    "CREATE INDEX IF NOT EXISTS signals_by_ip ON signals (ip)",
    "CREATE INDEX IF NOT EXISTS signals_by_expiry ON signals (expires_at)"
    " WHERE expires_at IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS signals_by_retry ON signals (next_attempt_at)",
]
# Added after version 1 shipped; created on open by a writer (older programs ignore them).
_ADDED = [
    # One row per request of any process on this spool: its start and its end (until it
    # ends, the latest it can: its start + hold, the sender's longest request). The shared
    # form of ratelimit.py's end-to-start window.
    """CREATE TABLE IF NOT EXISTS sends (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        started REAL NOT NULL,
        ends REAL NOT NULL,
        hold REAL NOT NULL
    )""",
]
_ADDED_TABLES = {"sends"}
_SCHEMA += _ADDED
# Gauges kept beside the totals, so that no write has to count the whole table.
_GAUGES = ("live_events", "live_bytes")
_READY = (
    "(lease_id IS NULL OR lease_expires <= :now) AND next_attempt_at <= :now"
    " AND (expires_at IS NULL OR expires_at > :now)"
)
_COLUMNS = "id, ip, rank, message, event_ts, expires_at, source, line, attempts, first_failure_at"
# Both walk an index in order and stop at the LIMIT, however large the spool.
_READY_BY_RANK = (
    f"SELECT {_COLUMNS} FROM signals INDEXED BY signals_by_priority"  # noqa: S608 - constants
    f" WHERE {_READY} ORDER BY rank, id LIMIT :limit"
)
_COUNT_READY = f"SELECT count(*) FROM (SELECT 1 FROM signals WHERE {_READY} LIMIT :limit)"  # noqa: S608
_OLDEST_READY = f"SELECT accepted_at FROM signals WHERE {_READY} ORDER BY id LIMIT 1"  # noqa: S608
_READY_EXPIRING = (
    f"SELECT {_COLUMNS} FROM signals INDEXED BY signals_by_expiry"  # noqa: S608 - constants
    f" WHERE expires_at < :horizon AND {_READY} ORDER BY expires_at LIMIT :limit"
)


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
    """Subjects merged into a signal already waiting for the same IP."""


@dataclass
class Lease:
    id: str
    expires: float
    signals: list[Signal] = field(default_factory=list)


class Spool:
    """One process's connection to a spool file; safe to share between its threads.

    `read_only` (for `status`): nothing is created, moved or changed; a missing file, a
    file that is not a spool, a newer or a damaged one is a LocalWriteError.
    """

    def __init__(
        self,
        path: str,
        *,
        policy: SpoolPolicy | None = None,
        sync: str = "normal",
        max_pages: int | None = None,
        read_only: bool = False,
    ) -> None:
        self.path = path
        self.policy = policy or SpoolPolicy()
        self._lock = threading.RLock()
        self._closed = False
        self._shared_lock: int | None = None
        self.moved_aside: str | None = None
        """Where a damaged spool file was moved on open, if it was."""
        try:
            if read_only:
                self._db = self._open_read_only()
            else:
                self._db = self._open_for_writing(sync, max_pages)
        except (OSError, sqlite3.Error, _Damaged, _NotOurs) as exc:
            # Not damage we may repair (a permission, a locked file, a file that is not
            # ours, a newer version): the file may hold accepted events, so it is left
            # exactly where it is and the run stops.
            self._unlock()
            raise LocalWriteError(f"cannot open the spool {path}: {exc}") from exc
        if not read_only:
            self._release_leases_of_dead_processes()

    # -- opening, damage and schema ------------------------------------------------------

    def _open_for_writing(self, sync: str, max_pages: int | None) -> sqlite3.Connection:
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        # Every writer holds a shared lock on PATH.lock while it has the spool open, so
        # a damaged file is moved aside only when no other process is using it.
        self._shared_lock = _lock_file(self.path + ".lock", fcntl.LOCK_SH)
        kind = spool_file_kind(self.path)
        if kind in ("foreign", "not-sqlite"):
            raise _NotOurs(_NOT_OURS[kind])
        try:
            return self._connect(self.path, sync, max_pages, adopt=kind == "unmarked")
        except _Damaged as damage:
            if kind != "ours":
                # Unmarked (older spools carry no mark): it may be someone else's file.
                raise _NotOurs(
                    f"{damage}; it carries no okta-risk-output mark, so it is left alone"
                    " (move it aside yourself if it is an old spool)"
                ) from None
            self.moved_aside = self._move_aside(str(damage))
            db = self._connect(self.path, sync, max_pages, adopt=False)
            self._db = db
            with self._write() as writing:
                _bump(writing, "damaged_spools_moved_aside", 1, table="meta")
            return db

    def _open_read_only(self) -> sqlite3.Connection:
        if not os.path.exists(self.path):
            raise _NotOurs("no such file (nothing was ever spooled there?)")
        kind = spool_file_kind(self.path)
        if kind in ("foreign", "not-sqlite"):
            raise _NotOurs(_NOT_OURS[kind])
        uri = f"file:{urllib.parse.quote(os.path.abspath(self.path))}?mode=ro"
        db = sqlite3.connect(uri, uri=True, timeout=30.0, isolation_level=None)
        db.execute("PRAGMA busy_timeout = 30000")
        try:
            tables = _tables(db)
            if not tables:
                raise _NotOurs("an empty database, not a spool")
            self._check(db, tables)
        except (sqlite3.DatabaseError, _Damaged) as exc:
            db.close()
            raise _NotOurs(
                f"{exc}; only a command that writes may move a damaged spool"
                " aside, so it is left alone"
            ) from exc
        except BaseException:
            db.close()
            raise
        return db

    def _connect(
        self, path: str, sync: str, max_pages: int | None, *, adopt: bool
    ) -> sqlite3.Connection:
        db = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
        try:
            return self._prepare(db, sync, max_pages, adopt=adopt)
        except sqlite3.DatabaseError as exc:
            db.close()
            if _is_damage(exc):
                raise _Damaged(str(exc)) from exc
            raise
        except (_Damaged, _NotOurs):
            db.close()
            raise

    def _prepare(
        self, db: sqlite3.Connection, sync: str, max_pages: int | None, *, adopt: bool
    ) -> sqlite3.Connection:
        db.execute("PRAGMA busy_timeout = 30000")
        # Checked before anything is changed (even the journal mode): a file that turns
        # out not to be ours must be left exactly as it was.
        tables = _tables(db)
        if tables:
            self._check(db, tables)
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        # NORMAL in WAL mode: a commit survives a crash of the process (kill -9) at once
        # and a power cut once the WAL is checkpointed; FULL fsyncs every commit.
        db.execute(f"PRAGMA synchronous = {'FULL' if sync == 'full' else 'NORMAL'}")
        if max_pages is not None:
            db.execute(f"PRAGMA max_page_count = {int(max_pages)}")
        if not tables:
            self._create(db)
        elif adopt or not tables >= _ADDED_TABLES:
            # Only when there is something to do: a write lock on every open would make
            # each short-lived `enqueue` queue behind a busy drain.
            self._upgrade(db, adopt=adopt)
        if mode.lower() != "wal":
            raise _Damaged(f"could not switch to WAL mode (got {mode})")
        return db

    @staticmethod
    def _create(db: sqlite3.Connection) -> None:
        db.execute("BEGIN IMMEDIATE")
        # The mark, in the file's header: readable even when the rest is damaged.
        db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        for statement in _SCHEMA:
            db.execute(statement)
        db.executemany(
            "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
            [("schema_version", str(SCHEMA_VERSION)), ("created_at", _utc_now())],
        )
        db.executemany(
            "INSERT OR IGNORE INTO totals (name, value) VALUES (?, 0)",
            [(t,) for t in TOTALS + _GAUGES],
        )
        db.execute("COMMIT")

    @staticmethod
    def _upgrade(db: sqlite3.Connection, *, adopt: bool) -> None:
        """Bring a spool of this schema version up to date: the mark on spools made before
        it existed, and tables added since (additions only, which older programs ignore,
        so the version stays)."""
        db.execute("BEGIN IMMEDIATE")
        if adopt:
            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        for statement in _ADDED:
            db.execute(statement)
        db.execute("COMMIT")

    @staticmethod
    def _check(db: sqlite3.Connection, tables: set[str]) -> None:
        row = None
        if "meta" in tables:
            row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        version = int(row[0]) if row and str(row[0]).isdigit() else 0
        if version > SCHEMA_VERSION:
            # Never damage: a newer okta-risk-output (perhaps running now) owns this file.
            raise _NotOurs(
                f"written by a newer okta-risk-output (spool schema version {version}; this"
                f" program knows {SCHEMA_VERSION}); upgrade this program, the file is left alone"
            )
        if not {"meta", "totals", "signals"} <= tables:
            raise _Damaged(f"not a spool (tables: {', '.join(sorted(tables))})")
        if version < 1:
            raise _Damaged("the spool has no schema version")
        verdict = db.execute("PRAGMA quick_check").fetchone()[0]
        if verdict != "ok":
            raise _Damaged(f"integrity check failed: {verdict}")

    def _move_aside(self, why: str) -> str:
        # Only with every other user of the file gone: moving it under a running process
        # would split the queue (that process would go on writing to the moved file).
        assert self._shared_lock is not None
        try:
            fcntl.flock(self._shared_lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise _NotOurs(
                f"{why}; it is damaged, but another process has it open, so it is left"
                " where it is (stop the other okta-risk-output processes and try again)"
            ) from None
        try:
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
            target = f"{self.path}.damaged-{stamp}"
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(self.path + suffix):
                    os.replace(self.path + suffix, target + suffix)
        finally:
            fcntl.flock(self._shared_lock, fcntl.LOCK_SH)
        log.error(
            "the spool %s is unusable (%s); moved it to %s and started a new one",
            self.path,
            why,
            target,
        )
        return target

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
        results: list[PutResult] = []
        whole = self.policy.overflow != "drop-lowest-risk"
        with self._write() as db:
            for event, source, line in items:
                if whole:
                    # All of an event's subjects or none: under block or reject-new a
                    # refused subject refuses its event, never vanishes from a kept one.
                    db.execute("SAVEPOINT event")
                result = self._put_event(db, event, source, line, now)
                if whole:
                    if not result.accepted:
                        db.execute("ROLLBACK TO event")
                    db.execute("RELEASE event")
                if not result.accepted and self.policy.overflow == "block":
                    break
                results.append(result)
        return results

    def _put_event(
        self, db: sqlite3.Connection, event: dict[str, Any], source: str, line: int, now: float
    ) -> PutResult:
        """Each subject becomes a signal, or merges into one waiting for the same IP.

        Under drop-lowest-risk the event counts as accepted when any of its subjects was
        kept (the others are counted as dropped); under block and reject-new only when all
        of them were.
        """
        stamp = event.get("timestamp")
        event_ts = epoch_of(stamp) if isinstance(stamp, str) else None
        expiry = event.get("expiresAt")
        expires_at = epoch_of(expiry) if isinstance(expiry, str) else None
        kept = evicted = coalesced = refused = 0
        for subject in event["subjects"]:
            signal = _Incoming(
                ip=subject["ip"],
                rank=risk_rank(subject["riskLevel"]),
                message=subject.get("message") or None,
                event_ts=event_ts,
                expires_at=expires_at,
            )
            if self.policy.coalesce and self._coalesce(db, signal, now):
                kept += 1
                coalesced += 1
                continue
            room = self._room_for(db, signal)
            if room < 0:
                refused += 1
                continue
            evicted += room
            db.execute(
                "INSERT INTO signals (ip, rank, message, event_ts, expires_at, accepted_at,"
                " source, line, size) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    signal.ip,
                    signal.rank,
                    signal.message,
                    signal.event_ts,
                    signal.expires_at,
                    now,
                    source,
                    line,
                    signal.size,
                ),
            )
            _bump(db, "accepted", 1)
            _bump(db, "live_events", 1)
            _bump(db, "live_bytes", signal.size)
            kept += 1
        if kept and refused:
            if self.policy.overflow != "drop-lowest-risk":
                return PutResult(accepted=False)  # put_many rolls the whole event back
            # The event is kept for its other subjects; these ranked lowest in a full
            # spool. Counted as taken and dropped at once, never lost without a trace.
            _bump(db, "accepted", refused)
            _bump(db, "dropped", refused)
            evicted += refused
        return PutResult(accepted=kept > 0, evicted=evicted, coalesced=coalesced)

    def _coalesce(self, db: sqlite3.Connection, new: _Incoming, now: float) -> bool:
        """Merge into the waiting signal for the same IP, if there is one."""
        window = self.policy.coalesce_window
        since = float("-inf") if window is None else now - window
        row = db.execute(
            "SELECT id, rank, message, event_ts, expires_at, size FROM signals"
            " WHERE ip = ? AND lease_id IS NULL AND accepted_at >= ? ORDER BY id DESC LIMIT 1",
            (new.ip, since),
        ).fetchone()
        if row is None:
            return False
        _merge_into(db, row, new)
        # The later input is the one counted as coalesced: accepted, and merged away.
        _bump(db, "accepted", 1)
        _bump(db, "coalesced", 1)
        return True

    def _rejoin(self, db: sqlite3.Connection, ids: Sequence[int]) -> None:
        """Signals back to waiting (a retry, a release) merge into a signal now waiting for
        the same IP, which arrived while they were in flight: one waiting signal per IP,
        so a LOW that comes back can never be sent after the HIGH that followed it."""
        if not self.policy.coalesce:
            return
        window = self.policy.coalesce_window
        for signal_id in ids:
            back = db.execute(
                "SELECT ip, rank, message, event_ts, expires_at, size, accepted_at FROM signals"
                " WHERE id = ? AND lease_id IS NULL",
                (signal_id,),
            ).fetchone()
            if back is None:
                continue
            ip, rank, message, event_ts, expires_at, size, accepted_at = back
            since = float("-inf") if window is None else accepted_at - window
            waiting = db.execute(
                "SELECT id, rank, message, event_ts, expires_at, size FROM signals"
                " WHERE ip = ? AND lease_id IS NULL AND id != ? AND accepted_at >= ?"
                " ORDER BY id DESC LIMIT 1",
                (ip, signal_id, since),
            ).fetchone()
            if waiting is None:
                continue
            _merge_into(db, waiting, _Incoming(ip, rank, message, event_ts, expires_at))
            db.execute("DELETE FROM signals WHERE id = ?", (signal_id,))
            _bump(db, "coalesced", 1)
            _bump(db, "live_events", -1)
            _bump(db, "live_bytes", -size)

    def _room_for(self, db: sqlite3.Connection, new: _Incoming) -> int:
        """Signals evicted to make room for `new` (0 when it fits); -1 when it is refused."""
        count, size = _gauge(db)
        policy = self.policy
        if count + 1 <= policy.max_events and size + new.size <= policy.max_bytes:
            return 0
        if policy.overflow != "drop-lowest-risk":
            return -1
        return self._make_room(db, new.rank, new.size)

    def _make_room(self, db: sqlite3.Connection, rank: int, size: int) -> int:
        """Drop the oldest lowest-risk signals until the new one fits; -1 if it ranks lowest.

        Never a HIGH while a lower-risk signal remains, even one in flight: candidates are
        taken LOW first, then MEDIUM, then HIGH, oldest first, and only those ranked at or
        below the new signal. Signals leased for delivery right now are left alone.
        """
        count, total = _gauge(db)
        victims: list[int] = []
        freed_events, freed_bytes = 0, 0

        def fits() -> bool:
            return (
                count - freed_events + 1 <= self.policy.max_events
                and total - freed_bytes + size <= self.policy.max_bytes
            )

        # Rank by rank from LOW up, each oldest first: every query walks the index in order
        # and stops as soon as enough room is found, however large the spool.
        for victim_rank in range(len(RISK_LEVELS) - 1, rank - 1, -1):
            if victim_rank == rank and not fits():
                # Before a signal as risky as the new one is dropped: lower-risk signals
                # in flight cannot be dropped (a process is sending them), but they must
                # not cost higher-risk work its place either. The cap is exceeded by at
                # most what is in flight, until those requests are settled.
                in_flight, in_flight_bytes = db.execute(
                    "SELECT count(*), coalesce(sum(size), 0) FROM signals"
                    " WHERE lease_id IS NOT NULL AND rank > ?",
                    (rank,),
                ).fetchone()
                freed_events += in_flight
                freed_bytes += in_flight_bytes
            if fits():
                break
            rows = db.execute(
                "SELECT id, size FROM signals INDEXED BY signals_by_priority"
                " WHERE rank = ? AND lease_id IS NULL ORDER BY id",
                (victim_rank,),
            )
            for signal_id, signal_size in rows:
                if fits():
                    break
                victims.append(signal_id)
                freed_events += 1
                freed_bytes += signal_size
        if not fits():
            return -1
        _remove(db, victims, "dropped")
        return len(victims)

    def has_room(self, event: dict[str, Any]) -> bool:
        """For the `block` policy: whether `event` would fit now."""
        needed = [_size(s["ip"], s.get("message")) for s in event["subjects"]]
        with self._lock:
            count, size = _gauge(self._db)
        return (
            count + len(needed) <= self.policy.max_events
            and size + sum(needed) <= self.policy.max_bytes
        )

    def could_ever_hold(self, event: dict[str, Any]) -> bool:
        """Whether `event` fits even an empty spool (else `block` would wait for ever)."""
        needed = [_size(s["ip"], s.get("message")) for s in event["subjects"]]
        return len(needed) <= self.policy.max_events and sum(needed) <= self.policy.max_bytes

    # -- delivery ------------------------------------------------------------------------
    # Every settling change (ack, dead, retry_later, release, renew) touches only rows still
    # held by the caller's lease. A process whose lease ran out, and whose signals another
    # process has taken over since, changes nothing: it is told so by the count returned.

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
        horizon = float("-inf") if expiring_before is None else expiring_before
        marks = {"now": now, "horizon": horizon, "limit": _CANDIDATES}
        with self._write() as db:
            expiring = [_signal(row) for row in db.execute(_READY_EXPIRING, marks)]
            soon = {s.id for s in expiring}
            rest = [_signal(row) for row in db.execute(_READY_BY_RANK, marks)]
            # Within a rank: what would expire waiting goes first, soonest first; then by age.
            candidates = sorted(expiring, key=lambda s: s.level_rank) + [
                s for s in rest if s.id not in soon
            ]
            candidates.sort(key=lambda s: s.level_rank)  # stable: keeps the order within ranks
            if below_rank is not None:
                candidates = [s for s in candidates if s.level_rank < below_rank]
            chosen = choose(candidates) if candidates else []
            if not chosen:
                return None
            for chunk in _chunks([s.id for s in chosen]):
                places = ",".join("?" * len(chunk))
                sql = f"UPDATE signals SET lease_id = ?, lease_expires = ? WHERE id IN ({places})"  # noqa: S608 - only placeholders
                db.execute(sql, (lease.id, lease.expires, *chunk))
        lease.signals = chosen
        return lease

    def renew(
        self, lease: Lease, now: float, seconds: float, signals: Sequence[Signal] | None = None
    ) -> list[Signal]:
        """Extend the lease on `signals` (all of the lease's by default); returns those it
        still holds, the only ones this process may send."""
        wanted = list(lease.signals if signals is None else signals)
        lease.expires = now + seconds
        held: set[int] = set()
        with self._write() as db:
            for chunk in _chunks([s.id for s in wanted]):
                places = ",".join("?" * len(chunk))
                db.execute(
                    f"UPDATE signals SET lease_expires = ? WHERE lease_id = ? AND id IN ({places})",  # noqa: S608 - only placeholders
                    (lease.expires, lease.id, *chunk),
                )
                held.update(
                    r[0]
                    for r in db.execute(
                        f"SELECT id FROM signals WHERE lease_id = ? AND id IN ({places})",  # noqa: S608
                        (lease.id, *chunk),
                    )
                )
        return [s for s in wanted if s.id in held]

    def ack(self, lease: Lease, signals: Sequence[Signal]) -> int:
        """Okta took these: remove them. Returns how many this lease still held."""
        with self._write() as db:
            _set_meta(db, "last_error", "")  # Okta took something: the error is history
            return _remove(db, [s.id for s in signals], "delivered", lease_id=lease.id)

    def dead(self, lease: Lease, signals: Sequence[Signal]) -> int:
        """These were written to the dead-letter file: remove them (those still held)."""
        with self._write() as db:
            return _remove(db, [s.id for s in signals], "dead_lettered", lease_id=lease.id)

    def retry_later(
        self, lease: Lease, signals: Sequence[Signal], *, now: float, at: float, error: str
    ) -> int:
        """Back to waiting until `at`, one attempt more; returns how many were still held."""
        with self._write() as db:
            changed = _update_held(
                db,
                "lease_id = NULL, lease_expires = NULL, attempts = attempts + 1,"
                " next_attempt_at = ?, first_failure_at = COALESCE(first_failure_at, ?)",
                (at, now),
                lease.id,
                [s.id for s in signals],
            )
            self._rejoin(db, [s.id for s in signals])
            _set_meta(db, "last_error", error)
            _set_meta(db, "last_error_at", str(now))
        return changed

    def release(self, lease: Lease, signals: Sequence[Signal], *, error: str | None = None) -> int:
        """Give signals back untouched (shutdown, or delivery paused by a 401/403/404)."""
        with self._write() as db:
            changed = _update_held(
                db, "lease_id = NULL, lease_expires = NULL", (), lease.id, [s.id for s in signals]
            )
            self._rejoin(db, [s.id for s in signals])
            if error is not None:
                _set_meta(db, "last_error", error)
        return changed

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
            row = db.execute("SELECT value FROM meta WHERE key = 'next_send_at'").fetchone()
            next_at = float(row[0]) if row else float("-inf")
            if next_at > now + longest:
                log.warning(
                    "the spool's next send time lay %.0fs ahead (a clock that was ahead?);"
                    " counting it as %gs",
                    next_at - now,
                    longest,
                )
                next_at = now + longest
                _set_meta(db, "next_send_at", repr(next_at))
            wait = max(0.0, next_at - now)
            if window is not None and limit is not None:
                wait = max(wait, self._window_wait(db, now, window, limit, hold))
            if wait > NO_WAIT:
                return wait, None
            _set_meta(db, "next_send_at", repr(next_token(next_at, now, interval)))
            cursor = db.execute(
                "INSERT INTO sends (started, ends, hold) VALUES (?, ?, ?)", (now, now + hold, hold)
            )
            return 0.0, cursor.lastrowid

    @staticmethod
    def _window_wait(
        db: sqlite3.Connection, now: float, window: float, limit: int, hold: float
    ) -> float:
        db.execute("DELETE FROM sends WHERE ends < ?", (now - window,))
        # An end further ahead than its request can last is a clock that was ahead.
        db.execute("UPDATE sends SET ends = ? + hold WHERE ends > ? + hold", (now, now))
        ends = [float(r[0]) for r in db.execute("SELECT ends FROM sends ORDER BY ends")]
        if len(ends) < limit:
            return 0.0
        # This one may start once all but limit - 1 of them ended a window ago.
        return max(0.0, ends[len(ends) - limit] + window - now)

    def finish_send(self, slot: int, now: float) -> None:
        """The request of `slot` has ended (answered or not)."""
        with self._write() as db:
            db.execute("UPDATE sends SET ends = min(ends, ?) WHERE id = ?", (now, slot))

    def defer_sending(self, until: float) -> None:
        """No process sharing the spool sends before `until` (Okta said wait)."""
        with self._write() as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'next_send_at'").fetchone()
            if row is None or float(row[0]) < until:
                _set_meta(db, "next_send_at", repr(until))

    def expire(self, now: float) -> list[tuple[str, int]]:
        """Remove signals whose expiresAt has passed; returns their (source, line)."""
        with self._write() as db:
            rows = db.execute(
                "SELECT id, source, line FROM signals WHERE expires_at <= ?"
                " AND (lease_id IS NULL OR lease_expires <= ?)",
                (now, now),
            ).fetchall()
            _remove(db, [r[0] for r in rows], "expired")
        return [(r[1], r[2]) for r in rows]

    def cap_stored_times(self, now: float, *, retry: float, lease: float) -> int:
        """Stored times further ahead than their bound count as the bound from now: a retry
        time more than `retry` ahead (the longest backoff or Reset wait), a lease expiring
        further ahead than its length (the one its id names; `lease` for ids of older
        versions). They come from a clock that was ahead, or a holder that asked for too
        much. Returns how many rows were corrected."""
        with self._write() as db:
            retries = db.execute(
                "UPDATE signals SET next_attempt_at = ? WHERE next_attempt_at > ?",
                (now + retry, now + retry),
            ).rowcount
            leases = 0
            suspects = db.execute(
                "SELECT lease_id, max(lease_expires) FROM signals"
                " WHERE lease_id IS NOT NULL AND lease_expires > ? GROUP BY lease_id",
                (now + _SHORTEST_LEASE,),
            ).fetchall()
            for lease_id, latest in suspects:
                bound = now + (lease_length(lease_id) or lease)
                if latest > bound:
                    leases += db.execute(
                        "UPDATE signals SET lease_expires = ? WHERE lease_id = ?"
                        " AND lease_expires > ?",
                        (bound, lease_id, bound),
                    ).rowcount
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
            holders = self._db.execute(
                "SELECT DISTINCT lease_id FROM signals WHERE lease_id IS NOT NULL"
            ).fetchall()
        dead = [h for (h,) in holders if holder_is_dead(h)]
        if dead:
            with self._write() as db:
                db.executemany(
                    "UPDATE signals SET lease_id = NULL, lease_expires = NULL WHERE lease_id = ?",
                    [(h,) for h in dead],
                )

    # -- reading -------------------------------------------------------------------------

    def ready(self, now: float, at_most: int) -> tuple[int, float | None, float | None]:
        """(signals ready to send now, counted up to `at_most`; accepted_at of the oldest of
        them; the next retry time). Cheap on a large spool: nothing is counted past at_most."""
        with self._lock:
            marks = {"now": now, "limit": at_most}
            (count,) = self._db.execute(_COUNT_READY, marks).fetchone()
            row = self._db.execute(_OLDEST_READY, marks).fetchone()
            (upcoming,) = self._db.execute(
                "SELECT min(next_attempt_at) FROM signals WHERE next_attempt_at > ?", (now,)
            ).fetchone()
        return int(count), (row[0] if row else None), upcoming

    def live(self) -> int:
        """Signals still in the spool, in any state."""
        with self._lock:
            return _gauge(self._db)[0]

    def totals(self) -> dict[str, int]:
        with self._lock:
            return dict(self._db.execute("SELECT name, value FROM totals").fetchall())

    def status(self, now: float) -> dict[str, Any]:
        with self._lock:
            db = self._db
            by_level = {level: 0 for level in RISK_LEVELS}
            for rank, count in db.execute("SELECT rank, count(*) FROM signals GROUP BY rank"):
                by_level[RISK_LEVELS[rank]] = count
            in_flight, waiting_retry, oldest = db.execute(
                "SELECT"
                " sum(CASE WHEN lease_id IS NOT NULL AND lease_expires > ? THEN 1 ELSE 0 END),"
                " sum(CASE WHEN next_attempt_at > ? THEN 1 ELSE 0 END),"
                " min(accepted_at) FROM signals",
                (now, now),
            ).fetchone()
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
            count, size = _gauge(db)
        files = [self.path, self.path + "-wal"]
        return {
            "spool": self.path,
            "signals": count,
            "bytes_of_signals": size,
            "file_bytes": sum(os.path.getsize(f) for f in files if os.path.exists(f)),
            "by_risk_level": by_level,
            "in_flight": in_flight or 0,
            "waiting_retry": waiting_retry or 0,
            "oldest_age_seconds": None if oldest is None else max(0.0, now - oldest),
            "last_error": meta.get("last_error") or None,
            "damaged_spools_moved_aside": int(meta.get("damaged_spools_moved_aside", "0")),
            "totals": {k: v for k, v in self.totals().items() if k in TOTALS},
            "schema_version": int(meta["schema_version"]),
        }


class _Damaged(Exception):
    """Our spool, but unusable: it may be moved aside by a writer."""


class _NotOurs(Exception):
    """Not a file we may touch: refused, left exactly as it is."""


_NOT_OURS = {
    "foreign": "another program's SQLite database, not a spool; it is left alone",
    "not-sqlite": "not a spool (not an SQLite database at all); it is left alone",
}


def spool_file_kind(path: str) -> str:
    """What the file at `path` is, from its header only (so damage further in does not
    matter): missing, empty, ours (our mark), unmarked (SQLite without a mark: a spool from
    before the mark, or a database another program left empty), foreign (another
    program's mark) or not-sqlite.

    Read through SQLite, never by opening the file ourselves: closing a descriptor of our
    own on the file would drop the POSIX locks SQLite holds on it in this process.
    """
    try:
        if os.stat(path).st_size == 0:
            return "empty"
    except FileNotFoundError:
        return "missing"
    uri = f"file:{urllib.parse.quote(os.path.abspath(path))}?mode=ro"
    application_id: int | None
    try:
        db = sqlite3.connect(uri, uri=True, timeout=30.0)
        try:
            application_id = int(db.execute("PRAGMA application_id").fetchone()[0])
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        if not _is_damage(exc):
            raise
        # Corrupt past its header, or no database at all: the header's bytes decide. (A
        # damaged file is about to be refused or moved aside; the locks of other
        # connections of this process on it matter no more.)
        application_id = _application_id_of(path)
    if application_id is None:
        return "not-sqlite"
    if application_id == APPLICATION_ID:
        return "ours"
    return "unmarked" if application_id == 0 else "foreign"


def _application_id_of(path: str) -> int | None:
    with open(path, "rb") as file:
        header = file.read(100)
    if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
        return None
    return int.from_bytes(header[68:72], "big")


def _tables(db: sqlite3.Connection) -> set[str]:
    return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def _lock_file(path: str, how: int) -> int:
    # Read-only is enough for flock, so any user who may read the spool may take the lock
    # (the spool's own permissions still decide who may write it); 0644 as SQLite's own.
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, how)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _is_damage(error: sqlite3.DatabaseError) -> bool:
    """Only a file that is not a database, or a corrupt one, is damage to move aside."""
    code = getattr(error, "sqlite_errorcode", None)  # Python 3.11 and newer
    if code is not None:
        return code in (11, 26)  # SQLITE_CORRUPT, SQLITE_NOTADB
    text = str(error)
    return "not a database" in text or "malformed" in text


def _gauge(db: sqlite3.Connection) -> tuple[int, int]:
    values = dict(db.execute("SELECT name, value FROM totals WHERE name LIKE 'live_%'").fetchall())
    return int(values["live_events"]), int(values["live_bytes"])


def _remove(
    db: sqlite3.Connection, ids: Sequence[int], total: str, *, lease_id: str | None = None
) -> int:
    """Delete signals by id (only those still held by `lease_id`, when given), counting
    them under `total`; returns how many were removed (one may be gone already, or held by
    another lease: taken over after this one ran out, or expired)."""
    held = "" if lease_id is None else " AND lease_id = ?"
    extra = () if lease_id is None else (lease_id,)
    removed = removed_bytes = 0
    for chunk in _chunks(ids):
        marks = ",".join("?" * len(chunk))
        count, size = db.execute(
            f"SELECT count(*), coalesce(sum(size), 0) FROM signals WHERE id IN ({marks}){held}",  # noqa: S608 - only placeholders
            (*chunk, *extra),
        ).fetchone()
        db.execute(f"DELETE FROM signals WHERE id IN ({marks}){held}", (*chunk, *extra))  # noqa: S608
        removed += count
        removed_bytes += size
    _bump(db, total, removed)
    _bump(db, "live_events", -removed)
    _bump(db, "live_bytes", -removed_bytes)
    return removed


def _update_held(
    db: sqlite3.Connection,
    assignments: str,
    values: tuple[Any, ...],
    lease_id: str,
    ids: Sequence[int],
) -> int:
    """SET `assignments` on the rows of `ids` still held by `lease_id`; returns how many."""
    changed = 0
    for chunk in _chunks(ids):
        marks = ",".join("?" * len(chunk))
        changed += db.execute(
            f"UPDATE signals SET {assignments} WHERE lease_id = ? AND id IN ({marks})",  # noqa: S608 - constants and placeholders
            (*values, lease_id, *chunk),
        ).rowcount
    return changed


def _chunks(ids: Sequence[int], size: int = 500) -> Iterator[list[int]]:
    """Ids in groups small enough for one statement's placeholders."""
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def _bump(db: sqlite3.Connection, name: str, amount: int, *, table: str = "totals") -> None:
    if not amount:
        return
    if table == "meta":
        db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key)"
            " DO UPDATE SET value = CAST(value AS INTEGER) + ?",
            (name, str(amount), amount),
        )
    else:
        db.execute("UPDATE totals SET value = value + ? WHERE name = ?", (amount, name))


def _set_meta(db: sqlite3.Connection, key: str, value: str) -> None:
    db.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = ?",
        (key, value, value),
    )


@dataclass(frozen=True)
class _Incoming:
    """A subject on its way into the spool."""

    ip: str
    rank: int
    message: str | None
    event_ts: float | None
    expires_at: float | None

    @property
    def size(self) -> int:
        return _size(self.ip, self.message)


def _size(ip: str, message: str | None) -> int:
    """Bytes a signal costs the spool, for --spool-max-bytes: its text plus a fixed 64."""
    return len(ip) + len(message or "") + 64


def _signal(row: tuple[Any, ...]) -> Signal:
    signal_id, ip, rank, message, event_ts, expires_at, source, line, attempts, failed = row
    return Signal(
        id=signal_id,
        ip=ip,
        level=RISK_LEVELS[rank],
        message=message,
        timestamp=event_ts,
        expires_at=expires_at,
        source=source,
        line=line,
        attempts=attempts,
        first_failure_at=failed,
    )


def _merge_into(db: sqlite3.Connection, row: tuple[Any, ...], new: _Incoming) -> None:
    """Merge `new` into the waiting signal `row` (id, rank, message, event_ts, expires_at,
    size): the highest level, the latest expiry (none at all meaning Okta's default of 24 h
    after it takes the event, the latest), the earliest timestamp, both messages within 512
    characters. Keeps live_bytes in step; the caller counts the merge."""
    signal_id, rank, message, event_ts, expires_at, size = row
    merged_message = _merge_messages(message, new.message)
    merged_ts = _earliest(event_ts, new.event_ts)
    merged_expiry = (
        None if expires_at is None or new.expires_at is None else max(expires_at, new.expires_at)
    )
    new_size = _size(new.ip, merged_message)
    db.execute(
        "UPDATE signals SET rank = ?, message = ?, event_ts = ?, expires_at = ?, size = ?"
        " WHERE id = ?",
        (min(rank, new.rank), merged_message, merged_ts, merged_expiry, new_size, signal_id),
    )
    _bump(db, "live_bytes", new_size - size)


def _merge_messages(old: str | None, new: str | None) -> str | None:
    """Both reasons, the old first, joined by " - " (Okta allows no other separator)."""
    if not new or (old and new in old):
        return old
    if not old:
        return new
    return f"{old} - {new}"[:MESSAGE_MAX].rstrip()


def _earliest(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def _utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
