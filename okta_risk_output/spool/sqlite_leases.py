"""Taking signals out of the SQLite spool for delivery, and settling them: what is ready,
leasing it in priority order, renewing, and each fate (ack, dead, retry later, release,
expire), plus the repair of stored times a clock ahead left behind.

Every settling change touches only rows still held by the caller's lease (`lease_id = ?`
in each statement): a process whose lease ran out, and whose signals another process has
taken over since, changes nothing, and learns so from the count returned. Each function
runs inside the caller's transaction (sqlite.py) or, for `ready` and `lease_ids`, under its
lock.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from okta_risk_output.levels import RISK_LEVELS
from okta_risk_output.spool.holders import lease_length
from okta_risk_output.spool.signals import Signal
from okta_risk_output.spool.sqlite_put import rejoin
from okta_risk_output.spool.sqlite_rows import chunks, remove, set_meta, update_held
from okta_risk_output.spool.store import Lease, SpoolPolicy

__all__ = [
    "ack",
    "cap_stored_times",
    "dead",
    "expire",
    "free",
    "lease_ids",
    "ready",
    "release",
    "renew",
    "retry_later",
    "take",
]

_SHORTEST_LEASE = 30.0
"""No lease is shorter (2 x --timeout + 30 s): expiries nearer than this are never suspect."""
_CANDIDATES = 4000
"""How many ready signals a lease looks at to fill one request."""

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
# Both walk the retry index from its start (never tried: 0, in id order; then retries come
# due), so neither reads a signal waiting for a later retry, and both stop at their LIMIT.
# Ordered by id instead, SQLite would sort the whole backlog (256-314 ms at a million).
_COUNT_READY = (
    "SELECT count(*) FROM (SELECT 1 FROM signals INDEXED BY signals_by_retry"  # noqa: S608
    f" WHERE next_attempt_at <= :now AND {_READY} LIMIT :limit)"
)
# The oldest never tried; when none is, the one whose retry came due first.
_OLDEST_READY = (
    "SELECT accepted_at FROM signals INDEXED BY signals_by_retry"  # noqa: S608
    f" WHERE next_attempt_at <= :now AND {_READY} ORDER BY next_attempt_at, id LIMIT 1"
)
# What waits in the inbox (sqlite_fold.py) is ready: it has never been tried.
_COUNT_INBOX = "SELECT count(*) FROM (SELECT 1 FROM inbox LIMIT :limit)"
_OLDEST_INBOX = "SELECT accepted_at FROM inbox ORDER BY id LIMIT 1"
_READY_EXPIRING = (
    f"SELECT {_COLUMNS} FROM signals INDEXED BY signals_by_expiry"  # noqa: S608 - constants
    f" WHERE expires_at < :horizon AND {_READY} ORDER BY expires_at LIMIT :limit"
)


def ready(
    db: sqlite3.Connection, now: float, at_most: int
) -> tuple[int, float | None, float | None]:
    """(ready signals counted up to `at_most`, accepted_at of the oldest, next retry time),
    the inbox's included. Run inside one read transaction (sqlite.py): a fold by another
    process between two of these reads must not hide the rows it moved."""
    marks = {"now": now, "limit": at_most}
    (count,) = db.execute(_COUNT_READY, marks).fetchone()
    (waiting,) = db.execute(_COUNT_INBOX, {"limit": max(0, at_most - count)}).fetchone()
    oldest = [
        row[0]
        for row in (
            db.execute(_OLDEST_READY, marks).fetchone(),
            db.execute(_OLDEST_INBOX).fetchone(),
        )
        if row is not None
    ]
    (upcoming,) = db.execute(
        "SELECT min(next_attempt_at) FROM signals WHERE next_attempt_at > ?", (now,)
    ).fetchone()
    return int(count + waiting), (min(oldest) if oldest else None), upcoming


def take(
    db: sqlite3.Connection,
    lease: Lease,
    now: float,
    choose: Callable[[list[Signal]], list[Signal]],
    *,
    expiring_before: float | None,
    below_rank: int | None,
) -> list[Signal]:
    """Mark what `choose` picks from the ready candidates as held by `lease`; returns it.
    Candidates come highest risk first; within a level, those expiring before
    `expiring_before` soonest first, then the oldest."""
    horizon = float("-inf") if expiring_before is None else expiring_before
    marks = {"now": now, "horizon": horizon, "limit": _CANDIDATES}
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
        return []
    for chunk in chunks([s.id for s in chosen]):
        places = ",".join("?" * len(chunk))
        sql = f"UPDATE signals SET lease_id = ?, lease_expires = ? WHERE id IN ({places})"  # noqa: S608 - only placeholders
        db.execute(sql, (lease.id, lease.expires, *chunk))
    return chosen


def renew(db: sqlite3.Connection, lease: Lease, ids: Sequence[int]) -> set[int]:
    """Set the rows of `ids` still held by `lease` to expire at `lease.expires`; returns
    the ids it still holds."""
    held: set[int] = set()
    for chunk in chunks(ids):
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
    return held


def ack(db: sqlite3.Connection, lease: Lease, ids: Sequence[int]) -> int:
    set_meta(db, "last_error", "")  # Okta took something: the error is history
    return remove(db, ids, "delivered", lease_id=lease.id)


def dead(db: sqlite3.Connection, lease: Lease, ids: Sequence[int]) -> int:
    return remove(db, ids, "dead_lettered", lease_id=lease.id)


def retry_later(
    db: sqlite3.Connection,
    policy: SpoolPolicy,
    lease: Lease,
    ids: Sequence[int],
    *,
    now: float,
    at: float,
    error: str,
) -> int:
    changed = update_held(
        db,
        "lease_id = NULL, lease_expires = NULL, attempts = attempts + 1,"
        " next_attempt_at = ?, first_failure_at = COALESCE(first_failure_at, ?)",
        (at, now),
        lease.id,
        ids,
    )
    rejoin(db, policy, ids)
    set_meta(db, "last_error", error)
    set_meta(db, "last_error_at", str(now))
    return changed


def release(
    db: sqlite3.Connection,
    policy: SpoolPolicy,
    lease: Lease,
    ids: Sequence[int],
    *,
    error: str | None,
) -> int:
    changed = update_held(db, "lease_id = NULL, lease_expires = NULL", (), lease.id, ids)
    rejoin(db, policy, ids)
    if error is not None:
        set_meta(db, "last_error", error)
    return changed


def expire(db: sqlite3.Connection, now: float) -> list[tuple[str, int]]:
    """Remove what expired and is not in flight under a live lease; its (source, line)."""
    rows = db.execute(
        "SELECT id, source, line FROM signals WHERE expires_at <= ?"
        " AND (lease_id IS NULL OR lease_expires <= ?)",
        (now, now),
    ).fetchall()
    remove(db, [r[0] for r in rows], "expired")
    return [(r[1], r[2]) for r in rows]


def cap_stored_times(
    db: sqlite3.Connection, now: float, *, retry: float, lease: float
) -> tuple[int, int]:
    """(retry times, lease expiries) rewritten to their bound from now (Store's contract)."""
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
                "UPDATE signals SET lease_expires = ? WHERE lease_id = ? AND lease_expires > ?",
                (bound, lease_id, bound),
            ).rowcount
    return retries, leases


def lease_ids(db: sqlite3.Connection) -> list[str]:
    """Every lease id that holds a signal now."""
    rows = db.execute("SELECT DISTINCT lease_id FROM signals WHERE lease_id IS NOT NULL")
    return [h for (h,) in rows.fetchall()]


def free(db: sqlite3.Connection, policy: SpoolPolicy, holders: Sequence[str]) -> None:
    """Return the signals of these lease ids at once (their holders are gone), merged as a
    release merges them into what came for their IPs meanwhile."""
    ids = [
        signal_id
        for holder in holders
        for (signal_id,) in db.execute("SELECT id FROM signals WHERE lease_id = ?", (holder,))
    ]
    db.executemany(
        "UPDATE signals SET lease_id = NULL, lease_expires = NULL WHERE lease_id = ?",
        [(h,) for h in holders],
    )
    rejoin(db, policy, ids)


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
