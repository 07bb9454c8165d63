"""The SQLite spool's small row operations, shared by its modules: removing and updating
signals by id (counting what changed), the running totals and gauges, the meta table.

The gauges (live_events, live_bytes and one count per risk level, live_high...) describe
every signal in the spool, the inbox's included, so that `status`, the overflow policy and
the conservation law never count rows.

Each takes a connection already inside the caller's transaction (sqlite.py opens it; a
read may run under its lock instead), so that a change of state and the totals it moves
commit together or not at all.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from okta_risk_output.levels import RISK_LEVELS

__all__ = [
    "LEVEL_GAUGES",
    "bump",
    "bump_all",
    "chunks",
    "gauge",
    "level_gauge",
    "remove",
    "set_meta",
    "update_held",
]

T = TypeVar("T")

LEVEL_GAUGES = tuple(f"live_{level.lower()}" for level in RISK_LEVELS)
"""Signals of each risk level (by rank), kept beside the totals for `status`."""


def level_gauge(rank: int) -> str:
    return LEVEL_GAUGES[rank]


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
    changes: dict[str, int] = {}
    removed = 0
    for chunk in chunks(ids):
        marks = ",".join("?" * len(chunk))
        for rank, count, size in db.execute(
            f"SELECT rank, count(*), coalesce(sum(size), 0) FROM signals"  # noqa: S608 - only placeholders
            f" WHERE id IN ({marks}){held} GROUP BY rank",
            (*chunk, *extra),
        ).fetchall():
            removed += count
            changes[level_gauge(rank)] = changes.get(level_gauge(rank), 0) - count
            changes["live_bytes"] = changes.get("live_bytes", 0) - size
        db.execute(f"DELETE FROM signals WHERE id IN ({marks}){held}", (*chunk, *extra))  # noqa: S608
    changes[total] = removed
    changes["live_events"] = -removed
    bump_all(db, changes)
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


def chunks(ids: Sequence[T], size: int = 500) -> Iterator[list[T]]:
    """Ids (or addresses) in groups small enough for one statement's placeholders."""
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


def bump_all(db: sqlite3.Connection, changes: dict[str, int]) -> None:
    """Several totals at once (one statement): what a batch or a fold moved."""
    moved = [(amount, name) for name, amount in changes.items() if amount]
    if moved:
        db.executemany("UPDATE totals SET value = value + ? WHERE name = ?", moved)


def set_meta(db: sqlite3.Connection, key: str, value: str) -> None:
    db.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = ?",
        (key, value, value),
    )
