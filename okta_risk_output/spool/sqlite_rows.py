"""The SQLite spool's small row operations, shared by its modules: removing and updating
signals by id (counting what changed), the running totals and gauges, the meta table.

Each takes a connection already inside the caller's transaction (sqlite.py opens it; a
read may run under its lock instead), so that a change of state and the totals it moves
commit together or not at all.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

__all__ = ["bump", "chunks", "gauge", "remove", "set_meta", "update_held"]


def gauge(db: sqlite3.Connection) -> tuple[int, int]:
    """(signals, bytes of signals) in the spool, from the gauges kept beside the totals."""
    values = dict(db.execute("SELECT name, value FROM totals WHERE name LIKE 'live_%'").fetchall())
    return int(values["live_events"]), int(values["live_bytes"])


def remove(
    db: sqlite3.Connection, ids: Sequence[int], total: str, *, lease_id: str | None = None
) -> int:
    """Delete signals by id (only those still held by `lease_id`, when given), counting
    them under `total`; returns how many were removed (one may be gone already, or held by
    another lease: taken over after this one ran out, or expired)."""
    held = "" if lease_id is None else " AND lease_id = ?"
    extra = () if lease_id is None else (lease_id,)
    removed = removed_bytes = 0
    for chunk in chunks(ids):
        marks = ",".join("?" * len(chunk))
        count, size = db.execute(
            f"SELECT count(*), coalesce(sum(size), 0) FROM signals WHERE id IN ({marks}){held}",  # noqa: S608 - only placeholders
            (*chunk, *extra),
        ).fetchone()
        db.execute(f"DELETE FROM signals WHERE id IN ({marks}){held}", (*chunk, *extra))  # noqa: S608
        removed += count
        removed_bytes += size
    bump(db, total, removed)
    bump(db, "live_events", -removed)
    bump(db, "live_bytes", -removed_bytes)
    return removed


def update_held(
    db: sqlite3.Connection,
    assignments: str,
    values: tuple[Any, ...],
    lease_id: str,
    ids: Sequence[int],
) -> int:
    """SET `assignments` on the rows of `ids` still held by `lease_id`; returns how many."""
    changed = 0
    for chunk in chunks(ids):
        marks = ",".join("?" * len(chunk))
        changed += db.execute(
            f"UPDATE signals SET {assignments} WHERE lease_id = ? AND id IN ({marks})",  # noqa: S608 - constants and placeholders
            (*values, lease_id, *chunk),
        ).rowcount
    return changed


def chunks(ids: Sequence[int], size: int = 500) -> Iterator[list[int]]:
    """Ids in groups small enough for one statement's placeholders."""
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def bump(db: sqlite3.Connection, name: str, amount: int, *, table: str = "totals") -> None:
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


def set_meta(db: sqlite3.Connection, key: str, value: str) -> None:
    db.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = ?",
        (key, value, value),
    )
