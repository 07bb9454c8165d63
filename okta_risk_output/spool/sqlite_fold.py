"""Folding the SQLite spool's inbox into its signals: the coalescing and the indexing that
intake leaves undone, so that intake's commit is an append.

Intake appends each subject to `inbox`, a table with no index but its rowid (sqlite_put.py).
Before any step that reads or changes what waits (lease, expire, a signal coming back to
waiting, making room), the spool folds the inbox in the order it was accepted: each row
merges into the waiting signal for its IP, exactly as a put used to at its arrival (the
window counted from the row's own accepted_at; never into a signal in flight), or becomes
a signal. Between two folds, a row in the inbox is a signal in every count (the gauges and
`live()` include it) but coalesces later: the merge is counted when it happens.

A long inbox is folded in slices of `SLICE` rows, each its own transaction (sqlite.py);
the step that asked for it then folds the rest in its own transaction, so what it reads
is everything accepted before it, while other processes' intake commits between the
slices.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from okta_risk_output.spool.sqlite_rows import bump_all, chunks, level_gauge
from okta_risk_output.spool.subjects import Incoming, merged

__all__ = ["SLICE", "fold", "inbox_rows"]

SLICE = 5000
"""Rows folded per transaction when the inbox is long (a burst, or intake without delivery)."""

_INBOX = (
    "id, ip, rank, message, event_ts, expires_at, accepted_at, source, line, size, coalesce,"
    " coalesce_window"
)


@dataclass(slots=True)  # one per row folded: slots make them cheaper to make
class _Target:
    """A waiting signal that rows may merge into: one already stored, or one this fold adds."""

    id: int | None
    """None for a signal this fold inserts."""
    ip: str
    rank: int
    message: str | None
    event_ts: float | None
    expires_at: float | None
    accepted_at: float
    size: int
    row: tuple[Any, ...] | None = None
    """The inbox row it came from, when this fold inserts it."""
    changed: bool = False


# The inbox's rowids run without a gap (appends take max + 1, folds delete from the
# start), so this counts it without walking it. (Two subqueries: min and max in one are a
# scan; each alone reads one end of the rowids.)
_INBOX_ROWS = "SELECT coalesce((SELECT max(id) FROM inbox) - (SELECT min(id) FROM inbox) + 1, 0)"


def inbox_rows(db: sqlite3.Connection) -> int:
    """Rows waiting in the inbox, read from its two ends."""
    (rows,) = db.execute(_INBOX_ROWS).fetchone()
    return int(rows)


def fold(db: sqlite3.Connection, *, limit: int = -1) -> tuple[int, int]:
    """Fold the first `limit` inbox rows (all by default) in their order; returns (rows
    folded, of them merged into a waiting signal). Runs inside the caller's transaction.
    Each row merges by the coalescing policy of the process that accepted it."""
    rows = db.execute(
        f"SELECT {_INBOX} FROM inbox ORDER BY id LIMIT ?",  # noqa: S608 - constants
        (limit,),
    ).fetchall()
    if not rows:
        return 0, 0
    # Any row that coalesces may merge into any waiting signal of its IP, even one that
    # was accepted with --no-coalesce (as on arrival), so all of them are candidates.
    coalescing = any(r[10] for r in rows)
    waiting = _waiting_for(db, {r[1] for r in rows}) if coalescing else {}
    changes: dict[str, int] = {}
    added: list[_Target] = []
    for row in rows:
        _id, ip, rank, message, event_ts, expires_at, accepted_at, *_, size, coalesce, window = row
        target = _target(waiting.get(ip), window, accepted_at) if coalesce else None
        if target is None:
            signal = _Target(None, ip, rank, message, event_ts, expires_at, accepted_at, size, row)
            added.append(signal)
            if coalescing:
                waiting.setdefault(ip, []).append(signal)
            continue
        result = merged(
            Incoming(ip, target.rank, target.message, target.event_ts, target.expires_at),
            Incoming(ip, rank, message, event_ts, expires_at),
        )
        # The row was counted as a signal of its own when it was appended.
        _count(changes, "coalesced", 1)
        _count(changes, "live_events", -1)
        _count(changes, "live_bytes", result.size - target.size - size)
        _count(changes, level_gauge(rank), -1)
        if result.rank != target.rank:
            _count(changes, level_gauge(target.rank), -1)
            _count(changes, level_gauge(result.rank), 1)
        target.rank, target.message = result.rank, result.message
        target.event_ts, target.expires_at, target.size = (
            result.event_ts,
            result.expires_at,
            result.size,
        )
        target.changed = True
    _store(db, waiting, added)
    db.execute("DELETE FROM inbox WHERE id <= ?", (rows[-1][0],))
    bump_all(db, changes)
    return len(rows), changes.get("coalesced", 0)


def _waiting_for(db: sqlite3.Connection, ips: set[str]) -> dict[str, list[_Target]]:
    """The signals waiting (not in flight) for each of `ips`, oldest first."""
    found: dict[str, list[_Target]] = {}
    for chunk in chunks(sorted(ips)):
        marks = ",".join("?" * len(chunk))
        for signal_id, ip, rank, message, event_ts, expires_at, accepted_at, size in db.execute(
            "SELECT id, ip, rank, message, event_ts, expires_at, accepted_at, size"  # noqa: S608 - only placeholders
            f" FROM signals WHERE ip IN ({marks}) AND lease_id IS NULL ORDER BY id",
            chunk,
        ):
            found.setdefault(ip, []).append(
                _Target(signal_id, ip, rank, message, event_ts, expires_at, accepted_at, size)
            )
    return found


def _target(
    candidates: list[_Target] | None, window: float | None, accepted_at: float
) -> _Target | None:
    """The latest waiting signal a row accepted at `accepted_at` merges into (only one
    accepted within `window` before it, when there is a window), or None."""
    if not candidates:
        return None
    since = float("-inf") if window is None else accepted_at - window
    for candidate in reversed(candidates):
        if candidate.accepted_at >= since:
            return candidate
    return None


def _store(db: sqlite3.Connection, waiting: dict[str, list[_Target]], added: list[_Target]) -> None:
    db.executemany(
        "UPDATE signals SET rank = ?, message = ?, event_ts = ?, expires_at = ?, size = ?"
        " WHERE id = ?",
        [
            (t.rank, t.message, t.event_ts, t.expires_at, t.size, t.id)
            for targets in waiting.values()
            for t in targets
            if t.changed and t.id is not None
        ],
    )
    # Ids in the inbox's order (the age within a level), rows in the order of their
    # addresses: the index on addresses is then filled page by page, not at random.
    (last,) = db.execute("SELECT coalesce(max(id), 0) FROM signals").fetchone()
    (seq,) = db.execute(
        "SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'signals'"
    ).fetchone()
    first = max(last, seq) + 1
    rows = [
        (
            first + n,
            t.ip,
            t.rank,
            t.message,
            t.event_ts,
            t.expires_at,
            t.accepted_at,
            *t.row[7:9],
            t.size,
        )
        for n, t in enumerate(added)
        if t.row is not None
    ]
    rows.sort(key=lambda r: r[1])
    db.executemany(
        "INSERT INTO signals (id, ip, rank, message, event_ts, expires_at, accepted_at, source,"
        " line, size) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


def _count(changes: dict[str, int], name: str, amount: int) -> None:
    changes[name] = changes.get(name, 0) + amount
