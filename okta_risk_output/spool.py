"""The durable queue between intake and delivery: one SQLite file in WAL mode.

It holds *signals*: one row per IP subject, so that requests can be packed with up to
1,000 of them and a repeated IP can be coalesced into the signal already waiting. A signal
is *accepted* once the transaction that stores it has committed. It leaves the spool only
when Okta has answered 2xx (ack), when it has been written to the dead-letter file (dead),
when its expiresAt has passed (expire), when a later one for the same IP was merged into
it (coalesced: the later one is counted), or when the overflow policy drops it.
Several processes may share one file: a batch is claimed with a lease (an id and an
expiry); an expired lease, or one held by a process that no longer runs, returns its
signals. The pacing of requests lives here too, so processes sharing a spool share Okta's
budget.

Times stored here are wall-clock epoch seconds, since processes share them. Every change of
state also updates the running totals in the same transaction, so `status` and the
conservation law never disagree with the rows.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from okta_risk_output.errors import LocalWriteError
from okta_risk_output.logs import log
from okta_risk_output.packing import Signal
from okta_risk_output.ratelimit import next_token
from okta_risk_output.timestamps import epoch_of

__all__ = [
    "OVERFLOW_POLICIES",
    "SCHEMA_VERSION",
    "Lease",
    "PutResult",
    "Spool",
    "SpoolPolicy",
    "risk_rank",
]

SCHEMA_VERSION = 1
OVERFLOW_POLICIES = ("drop-lowest-risk", "block", "reject-new")
RISK_LEVELS = ("HIGH", "MEDIUM", "LOW")
TOTALS = ("accepted", "delivered", "dead_lettered", "expired", "dropped", "coalesced")
MESSAGE_MAX = 512
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


def risk_rank(level: str) -> int:
    """0 for HIGH, 1 for MEDIUM, 2 for LOW: lower goes first."""
    return RISK_LEVELS.index(level) if level in RISK_LEVELS else 2


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
    """One process's connection to a spool file; safe to share between its threads."""

    def __init__(
        self,
        path: str,
        *,
        policy: SpoolPolicy | None = None,
        sync: str = "normal",
        max_pages: int | None = None,
    ) -> None:
        self.path = path
        self.policy = policy or SpoolPolicy()
        self._lock = threading.RLock()
        self._owner = f"{socket.gethostname()}:{os.getpid()}"
        self._closed = False
        self.moved_aside: str | None = None
        """Where a damaged spool file was moved on open, if it was."""
        try:
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            try:
                self._db = self._open(sync, max_pages)
            except _Damaged as damage:
                self.moved_aside = self._move_aside(str(damage))
                self._db = self._open(sync, max_pages)
                with self._write() as db:
                    _bump(db, "damaged_spools_moved_aside", 1, table="meta")
        except (OSError, sqlite3.Error, _Damaged) as exc:
            # Not damage (a permission, a locked file, no file descriptor left): the spool
            # may hold accepted events, so it is left where it is and the run stops.
            raise LocalWriteError(f"cannot open the spool {path}: {exc}") from exc
        self._release_leases_of_dead_processes()

    # -- opening, damage and schema ------------------------------------------------------

    def _open(self, sync: str, max_pages: int | None) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        try:
            return self._prepare(db, sync, max_pages)
        except sqlite3.DatabaseError as exc:
            db.close()
            if _is_damage(exc):
                raise _Damaged(str(exc)) from exc
            raise
        except _Damaged:
            db.close()
            raise

    def _prepare(
        self, db: sqlite3.Connection, sync: str, max_pages: int | None
    ) -> sqlite3.Connection:
        db.execute("PRAGMA busy_timeout = 30000")
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        # NORMAL in WAL mode: a commit survives a crash of the process (kill -9) at once
        # and a power cut once the WAL is checkpointed; FULL fsyncs every commit.
        db.execute(f"PRAGMA synchronous = {'FULL' if sync == 'full' else 'NORMAL'}")
        if max_pages is not None:
            db.execute(f"PRAGMA max_page_count = {int(max_pages)}")
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            self._create(db)
        else:
            self._check(db, tables)
        if mode.lower() != "wal":
            raise _Damaged(f"could not switch to WAL mode (got {mode})")
        return db

    @staticmethod
    def _create(db: sqlite3.Connection) -> None:
        db.execute("BEGIN IMMEDIATE")
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
    def _check(db: sqlite3.Connection, tables: set[str]) -> None:
        if not {"meta", "totals", "signals"} <= tables:
            raise _Damaged(f"not a spool (tables: {', '.join(sorted(tables))})")
        row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        version = int(row[0]) if row else 0
        if version > SCHEMA_VERSION:
            raise _Damaged(
                f"spool schema version {version} is newer than this program's {SCHEMA_VERSION}"
            )
        if version < 1:
            raise _Damaged("the spool has no schema version")
        verdict = db.execute("PRAGMA quick_check").fetchone()[0]
        if verdict != "ok":
            raise _Damaged(f"integrity check failed: {verdict}")

    def _move_aside(self, why: str) -> str:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        target = f"{self.path}.damaged-{stamp}"
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(self.path + suffix):
                os.replace(self.path + suffix, target + suffix)
        log.error(
            "the spool %s is unusable (%s); moved it to %s and started a new one",
            self.path,
            why,
            target,
        )
        return target

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
        with self._write() as db:
            for event, source, line in items:
                result = self._put_event(db, event, source, line, now)
                if not result.accepted and self.policy.overflow == "block":
                    break
                results.append(result)
        return results

    def _put_event(
        self, db: sqlite3.Connection, event: dict[str, Any], source: str, line: int, now: float
    ) -> PutResult:
        """Each subject becomes a signal, or merges into one waiting for the same IP.

        The event counts as accepted when any of its subjects was kept.
        """
        stamp = event.get("timestamp")
        event_ts = epoch_of(stamp) if isinstance(stamp, str) else None
        expiry = event.get("expiresAt")
        expires_at = epoch_of(expiry) if isinstance(expiry, str) else None
        kept = evicted = coalesced = 0
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
        return PutResult(accepted=kept > 0, evicted=evicted, coalesced=coalesced)

    def _coalesce(self, db: sqlite3.Connection, new: _Incoming, now: float) -> bool:
        """Merge into the waiting signal for the same IP: the highest level, the latest
        expiry (none at all meaning Okta's default of 24 h after it takes the event, the
        latest), the earliest timestamp, both messages within 512 characters."""
        window = self.policy.coalesce_window
        since = float("-inf") if window is None else now - window
        row = db.execute(
            "SELECT id, rank, message, event_ts, expires_at, size FROM signals"
            " WHERE ip = ? AND lease_id IS NULL AND accepted_at >= ? ORDER BY id DESC LIMIT 1",
            (new.ip, since),
        ).fetchone()
        if row is None:
            return False
        signal_id, rank, message, event_ts, expires_at, size = row
        merged_message = _merge_messages(message, new.message)
        merged_ts = _earliest(event_ts, new.event_ts)
        merged_expiry = (
            None
            if expires_at is None or new.expires_at is None
            else max(expires_at, new.expires_at)
        )
        new_size = _size(new.ip, merged_message)
        db.execute(
            "UPDATE signals SET rank = ?, message = ?, event_ts = ?, expires_at = ?, size = ?"
            " WHERE id = ?",
            (min(rank, new.rank), merged_message, merged_ts, merged_expiry, new_size, signal_id),
        )
        # The later input is the one counted as coalesced: accepted, and merged away.
        _bump(db, "accepted", 1)
        _bump(db, "coalesced", 1)
        _bump(db, "live_bytes", new_size - size)
        return True

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

        Never a HIGH while a lower-risk signal remains: candidates are taken LOW first, then
        MEDIUM, then HIGH, oldest first, and only those ranked at or below the new signal.
        Signals leased for delivery right now are left alone.
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
            if fits():
                break
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

    def lease(
        self,
        now: float,
        seconds: float,
        choose: Callable[[list[Signal]], list[Signal]],
        *,
        expiring_before: float | None = None,
    ) -> Lease | None:
        """Claim the ready signals `choose` picks from the candidates, in priority order:
        highest risk first; within a level, those expiring before `expiring_before` (they
        would expire while waiting their turn) soonest first, then the oldest."""
        lease = Lease(id=f"{self._owner}:{uuid.uuid4().hex[:12]}", expires=now + seconds)
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
            chosen = choose(candidates)
            if not chosen:
                return None
            for chunk in _chunks([s.id for s in chosen]):
                places = ",".join("?" * len(chunk))
                sql = f"UPDATE signals SET lease_id = ?, lease_expires = ? WHERE id IN ({places})"  # noqa: S608 - only placeholders
                db.execute(sql, (lease.id, lease.expires, *chunk))
        lease.signals = chosen
        return lease

    def extend(self, lease: Lease, now: float, seconds: float) -> None:
        lease.expires = now + seconds
        with self._write() as db:
            db.execute(
                "UPDATE signals SET lease_expires = ? WHERE lease_id = ?", (lease.expires, lease.id)
            )

    def ack(self, signals: Sequence[Signal]) -> int:
        """Okta took these: remove them. Returns how many were still here to remove."""
        with self._write() as db:
            _set_meta(db, "last_error", "")  # Okta took something: the error is history
            return _remove(db, [s.id for s in signals], "delivered")

    def dead(self, signals: Sequence[Signal]) -> int:
        """These were written to the dead-letter file: remove them."""
        with self._write() as db:
            return _remove(db, [s.id for s in signals], "dead_lettered")

    def retry_later(self, signals: Sequence[Signal], *, now: float, at: float, error: str) -> None:
        with self._write() as db:
            db.executemany(
                "UPDATE signals SET lease_id = NULL, lease_expires = NULL,"
                " attempts = attempts + 1, next_attempt_at = ?,"
                " first_failure_at = COALESCE(first_failure_at, ?) WHERE id = ?",
                [(at, now, s.id) for s in signals],
            )
            _set_meta(db, "last_error", error)
            _set_meta(db, "last_error_at", str(now))

    def release(self, signals: Sequence[Signal], *, error: str | None = None) -> None:
        """Give signals back untouched (shutdown, or delivery paused by a 401/403/404)."""
        with self._write() as db:
            db.executemany(
                "UPDATE signals SET lease_id = NULL, lease_expires = NULL WHERE id = ?",
                [(s.id,) for s in signals],
            )
            if error is not None:
                _set_meta(db, "last_error", error)

    def claim_send_slot(self, now: float, interval: float) -> float:
        """Shared pacing, the token bucket of ratelimit.py kept here: 0 when this process may
        send now (the next token is then taken for every process sharing the spool), else
        the seconds to wait."""
        with self._write() as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'next_send_at'").fetchone()
            next_at = float(row[0]) if row else float("-inf")
            if now < next_at:
                return next_at - now
            _set_meta(db, "next_send_at", repr(next_token(next_at, now, interval)))
            return 0.0

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

    def _release_leases_of_dead_processes(self) -> None:
        """Leases held by a process of this host that no longer runs return at once."""
        host = socket.gethostname()
        with self._lock:
            holders = self._db.execute(
                "SELECT DISTINCT lease_id FROM signals WHERE lease_id IS NOT NULL"
            ).fetchall()
        dead = [h for (h,) in holders if _holder_is_dead(h, host)]
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
    pass


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


def _remove(db: sqlite3.Connection, ids: Sequence[int], total: str) -> int:
    """Delete signals by id, counting them under `total`; returns how many were still there
    (one may be gone already: taken over after an expired lease, or expired)."""
    removed = removed_bytes = 0
    for chunk in _chunks(ids):
        marks = ",".join("?" * len(chunk))
        count, size = db.execute(
            f"SELECT count(*), coalesce(sum(size), 0) FROM signals WHERE id IN ({marks})",  # noqa: S608 - only placeholders
            chunk,
        ).fetchone()
        db.execute(f"DELETE FROM signals WHERE id IN ({marks})", chunk)  # noqa: S608
        removed += count
        removed_bytes += size
    _bump(db, total, removed)
    _bump(db, "live_events", -removed)
    _bump(db, "live_bytes", -removed_bytes)
    return removed


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


def _merge_messages(old: str | None, new: str | None) -> str | None:
    """Both reasons, the old first, joined by " - " (Okta allows no other separator)."""
    if not new or (old and new in old):
        return old
    if not old:
        return new
    return f"{old} - {new}"[:MESSAGE_MAX].rstrip()


def _earliest(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def _holder_is_dead(lease_id: str, host: str) -> bool:
    holder_host, _, rest = lease_id.partition(":")
    pid_text = rest.partition(":")[0]
    if holder_host != host or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
