"""The durable queue between intake and delivery: one SQLite file in WAL mode.

An event is *accepted* once the transaction that stores it has committed. It leaves the
spool only when Okta has answered 2xx (ack), when it has been written to the dead-letter
file (dead), when its expiresAt has passed (expire), or when the overflow policy drops it.
Several processes may share one file: a batch is claimed with a lease (an id and an
expiry); an expired lease, or one held by a process that no longer runs, returns its events.

Times stored here are wall-clock epoch seconds, since processes share them. Every change of
state also updates the running totals in the same transaction, so `status` and the
conservation law never disagree with the rows.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from okta_risk_output.errors import LocalWriteError
from okta_risk_output.logs import log
from okta_risk_output.timestamps import epoch_of

__all__ = [
    "OVERFLOW_POLICIES",
    "SCHEMA_VERSION",
    "Lease",
    "Leased",
    "PutResult",
    "Spool",
    "SpoolLimits",
    "risk_rank",
]

SCHEMA_VERSION = 1
OVERFLOW_POLICIES = ("drop-lowest-risk", "block", "reject-new")
RISK_LEVELS = ("HIGH", "MEDIUM", "LOW")
TOTALS = ("accepted", "delivered", "dead_lettered", "expired", "dropped")

# Idempotent, so two processes creating the same new spool at once cannot trip each other.
_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS totals (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    # AUTOINCREMENT: an id is never reused, so a stale lease can never ack or dead-letter
    # a newer event that happens to get the same id (found by tests/property).
    """CREATE TABLE IF NOT EXISTS events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        rank INTEGER NOT NULL,
        accepted_at REAL NOT NULL,
        expires_at REAL,
        next_attempt_at REAL NOT NULL DEFAULT 0,
        attempts INTEGER NOT NULL DEFAULT 0,
        first_failure_at REAL,
        lease_id TEXT,
        lease_expires REAL,
        source TEXT NOT NULL,
        line INTEGER NOT NULL,
        size INTEGER NOT NULL,
        body TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS events_by_priority ON events (rank, id)",
    "CREATE INDEX IF NOT EXISTS events_by_expiry ON events (expires_at)"
    " WHERE expires_at IS NOT NULL",
]
# Gauges kept beside the totals, so that no write has to count the whole table.
_GAUGES = ("live_events", "live_bytes")


def risk_rank(event: dict[str, Any]) -> int:
    """0 for an event with any HIGH subject, 1 for MEDIUM, 2 for LOW: lower goes first."""
    levels = {s.get("riskLevel") for s in event.get("subjects", ()) if isinstance(s, dict)}
    return min((RISK_LEVELS.index(lv) for lv in levels if lv in RISK_LEVELS), default=2)


@dataclass(frozen=True)
class SpoolLimits:
    max_events: int = 1_000_000
    max_bytes: int = 512 * 1024 * 1024
    overflow: str = "drop-lowest-risk"


@dataclass(frozen=True)
class PutResult:
    accepted: bool
    """False when the overflow policy refused the new event (reject-new, or it ranked lowest)."""
    evicted: int = 0
    """Older events dropped to make room (drop-lowest-risk)."""


@dataclass(frozen=True)
class Leased:
    """One event claimed for delivery."""

    id: int
    event: dict[str, Any]
    source: str
    line: int
    attempts: int
    first_failure_at: float | None


@dataclass
class Lease:
    id: str
    expires: float
    events: list[Leased] = field(default_factory=list)


class Spool:
    """One process's connection to a spool file; safe to share between its threads."""

    def __init__(
        self,
        path: str,
        *,
        limits: SpoolLimits | None = None,
        sync: str = "normal",
        max_pages: int | None = None,
    ) -> None:
        self.path = path
        self.limits = limits or SpoolLimits()
        self._lock = threading.RLock()
        self._owner = f"{socket.gethostname()}:{os.getpid()}"
        self._closed = False
        self.moved_aside: str | None = None
        """Where a damaged spool file was moved on open, if it was."""
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        try:
            self._db = self._open(sync, max_pages)
        except _Damaged as damage:
            self.moved_aside = self._move_aside(str(damage))
            self._db = self._open(sync, max_pages)
            with self._write() as db:
                _bump(db, "damaged_spools_moved_aside", 1, table="meta")
        self._release_leases_of_dead_processes()

    # -- opening, damage and schema ------------------------------------------------------

    def _open(self, sync: str, max_pages: int | None) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
        try:
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
        except sqlite3.DatabaseError as exc:
            db.close()
            raise _Damaged(str(exc)) from exc
        except _Damaged:
            db.close()
            raise
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
        if not {"meta", "totals", "events"} <= tables:
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
                result = self._put_one(db, event, source, line, now)
                if not result.accepted and self.limits.overflow == "block":
                    break
                results.append(result)
        return results

    def _put_one(
        self, db: sqlite3.Connection, event: dict[str, Any], source: str, line: int, now: float
    ) -> PutResult:
        body = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
        rank = risk_rank(event)
        evicted = 0
        count, size = _gauge(db)
        if count + 1 > self.limits.max_events or size + len(body) > self.limits.max_bytes:
            if self.limits.overflow != "drop-lowest-risk":
                return PutResult(accepted=False)
            evicted = self._make_room(db, rank, len(body))
            if evicted < 0:
                return PutResult(accepted=False)
        db.execute(
            "INSERT INTO events (rank, accepted_at, expires_at, source, line, size, body)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (rank, now, _expiry(event), source, line, len(body), body),
        )
        _bump(db, "accepted", 1)
        _bump(db, "live_events", 1)
        _bump(db, "live_bytes", len(body))
        return PutResult(accepted=True, evicted=evicted)

    def _make_room(self, db: sqlite3.Connection, rank: int, size: int) -> int:
        """Drop the oldest lowest-risk events until the new one fits; -1 if it ranks lowest.

        Never a HIGH while a lower-risk event remains: candidates are taken LOW first, then
        MEDIUM, then HIGH, oldest first, and only those ranked at or below the new event.
        Events leased for delivery right now are left alone.
        """
        count, total = _gauge(db)
        victims: list[tuple[int, int]] = []
        freed_events, freed_bytes = 0, 0
        rows = db.execute(
            "SELECT id, size FROM events WHERE rank >= ? AND lease_id IS NULL"
            " ORDER BY rank DESC, id ASC",
            (rank,),
        )
        for event_id, event_size in rows:
            if (
                count - freed_events + 1 <= self.limits.max_events
                and total - freed_bytes + size <= self.limits.max_bytes
            ):
                break
            victims.append((event_id, event_size))
            freed_events += 1
            freed_bytes += event_size
        fits = (
            count - freed_events + 1 <= self.limits.max_events
            and total - freed_bytes + size <= self.limits.max_bytes
        )
        if not fits:
            return -1
        _remove(db, [v[0] for v in victims], "dropped")
        return len(victims)

    def has_room(self) -> bool:
        """For the `block` policy: whether one more small event would fit now."""
        with self._lock:
            count, size = _gauge(self._db)
        return count < self.limits.max_events and size < self.limits.max_bytes

    # -- delivery ------------------------------------------------------------------------

    def lease(self, limit: int, now: float, seconds: float) -> Lease | None:
        """Claim up to `limit` ready events, highest risk first, then oldest."""
        lease = Lease(id=f"{self._owner}:{uuid.uuid4().hex[:12]}", expires=now + seconds)
        with self._write() as db:
            rows = db.execute(
                "SELECT id, body, source, line, attempts, first_failure_at FROM events"
                " WHERE (lease_id IS NULL OR lease_expires <= ?) AND next_attempt_at <= ?"
                "   AND (expires_at IS NULL OR expires_at > ?)"
                " ORDER BY rank, id LIMIT ?",
                (now, now, now, limit),
            ).fetchall()
            if not rows:
                return None
            db.executemany(
                "UPDATE events SET lease_id = ?, lease_expires = ? WHERE id = ?",
                [(lease.id, lease.expires, r[0]) for r in rows],
            )
        lease.events = [Leased(r[0], json.loads(r[1]), r[2], r[3], r[4], r[5]) for r in rows]
        return lease

    def extend(self, lease: Lease, now: float, seconds: float) -> None:
        lease.expires = now + seconds
        with self._write() as db:
            db.execute(
                "UPDATE events SET lease_expires = ? WHERE lease_id = ?", (lease.expires, lease.id)
            )

    def ack(self, events: Sequence[Leased]) -> int:
        """Okta took these: remove them. Returns how many were still here to remove."""
        with self._write() as db:
            return _remove(db, [e.id for e in events], "delivered")

    def dead(self, events: Sequence[Leased]) -> int:
        """These were written to the dead-letter file: remove them."""
        with self._write() as db:
            return _remove(db, [e.id for e in events], "dead_lettered")

    def retry_later(self, events: Sequence[Leased], *, now: float, at: float, error: str) -> None:
        with self._write() as db:
            db.executemany(
                "UPDATE events SET lease_id = NULL, lease_expires = NULL,"
                " attempts = attempts + 1, next_attempt_at = ?,"
                " first_failure_at = COALESCE(first_failure_at, ?) WHERE id = ?",
                [(at, now, e.id) for e in events],
            )
            _set_meta(db, "last_error", error)
            _set_meta(db, "last_error_at", str(now))

    def release(self, events: Sequence[Leased], *, error: str | None = None) -> None:
        """Give events back untouched (shutdown, or delivery paused by a 401/403/404)."""
        with self._write() as db:
            db.executemany(
                "UPDATE events SET lease_id = NULL, lease_expires = NULL WHERE id = ?",
                [(e.id,) for e in events],
            )
            if error is not None:
                _set_meta(db, "last_error", error)

    def note_success(self) -> None:
        with self._write() as db:
            _set_meta(db, "last_error", "")

    def expire(self, now: float) -> list[tuple[str, int]]:
        """Remove events whose expiresAt has passed; returns their (source, line)."""
        with self._write() as db:
            rows = db.execute(
                "SELECT id, source, line FROM events WHERE expires_at <= ?"
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
                "SELECT DISTINCT lease_id FROM events WHERE lease_id IS NOT NULL"
            ).fetchall()
        dead = [h for (h,) in holders if _holder_is_dead(h, host)]
        if dead:
            with self._write() as db:
                db.executemany(
                    "UPDATE events SET lease_id = NULL, lease_expires = NULL WHERE lease_id = ?",
                    [(h,) for h in dead],
                )

    # -- reading -------------------------------------------------------------------------

    def ready(self, now: float) -> tuple[int, float | None, float | None]:
        """(events ready to send now, accepted_at of the oldest of them, next retry time)."""
        with self._lock:
            count, oldest = self._db.execute(
                "SELECT count(*), min(accepted_at) FROM events"
                " WHERE (lease_id IS NULL OR lease_expires <= ?) AND next_attempt_at <= ?",
                (now, now),
            ).fetchone()
            (upcoming,) = self._db.execute(
                "SELECT min(next_attempt_at) FROM events WHERE next_attempt_at > ?", (now,)
            ).fetchone()
        return int(count), oldest, upcoming

    def live(self) -> int:
        """Events still in the spool, in any state."""
        with self._lock:
            return _gauge(self._db)[0]

    def totals(self) -> dict[str, int]:
        with self._lock:
            return dict(self._db.execute("SELECT name, value FROM totals").fetchall())

    def status(self, now: float) -> dict[str, Any]:
        with self._lock:
            db = self._db
            by_level = {level: 0 for level in RISK_LEVELS}
            for rank, count in db.execute("SELECT rank, count(*) FROM events GROUP BY rank"):
                by_level[RISK_LEVELS[rank]] = count
            in_flight, waiting_retry, oldest = db.execute(
                "SELECT"
                " sum(CASE WHEN lease_id IS NOT NULL AND lease_expires > ? THEN 1 ELSE 0 END),"
                " sum(CASE WHEN next_attempt_at > ? THEN 1 ELSE 0 END),"
                " min(accepted_at) FROM events",
                (now, now),
            ).fetchone()
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
            count, size = _gauge(db)
        files = [self.path, self.path + "-wal"]
        return {
            "spool": self.path,
            "events": count,
            "bytes_of_events": size,
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


def _gauge(db: sqlite3.Connection) -> tuple[int, int]:
    values = dict(db.execute("SELECT name, value FROM totals WHERE name LIKE 'live_%'").fetchall())
    return int(values["live_events"]), int(values["live_bytes"])


def _remove(db: sqlite3.Connection, ids: Sequence[int], total: str) -> int:
    """Delete events by id, counting them under `total`; returns how many were still there."""
    removed = removed_bytes = 0
    for event_id in ids:
        row = db.execute("SELECT size FROM events WHERE id = ?", (event_id,)).fetchone()
        if row is None:
            continue  # already taken by another process (an expired lease), or expired
        db.execute("DELETE FROM events WHERE id = ?", (event_id,))
        removed += 1
        removed_bytes += row[0]
    _bump(db, total, removed)
    _bump(db, "live_events", -removed)
    _bump(db, "live_bytes", -removed_bytes)
    return removed


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


def _expiry(event: dict[str, Any]) -> float | None:
    stamp = event.get("expiresAt")
    return epoch_of(stamp) if isinstance(stamp, str) else None


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
