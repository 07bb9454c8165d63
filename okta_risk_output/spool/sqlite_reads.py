"""What the SQLite spool reports, changing nothing: signals left, totals, and `status`.

Run under the caller's lock (sqlite.py), never in a write transaction: `status` opens the
spool read-only and must work on a file it may not write.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any

from okta_risk_output.levels import RISK_LEVELS
from okta_risk_output.spool.sqlite_rows import gauge
from okta_risk_output.spool.store import TOTALS

__all__ = ["live", "status", "totals"]


def live(db: sqlite3.Connection) -> int:
    return gauge(db)[0]


def totals(db: sqlite3.Connection) -> dict[str, int]:
    return dict(db.execute("SELECT name, value FROM totals").fetchall())


def status(db: sqlite3.Connection, path: str, now: float) -> dict[str, Any]:
    """The report of Store.status (its keys are listed there)."""
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
    count, size = gauge(db)
    files = [path, path + "-wal"]
    return {
        "spool": path,
        "signals": count,
        "bytes_of_signals": size,
        "file_bytes": sum(os.path.getsize(f) for f in files if os.path.exists(f)),
        "by_risk_level": by_level,
        "in_flight": in_flight or 0,
        "waiting_retry": waiting_retry or 0,
        "oldest_age_seconds": None if oldest is None else max(0.0, now - oldest),
        "last_error": meta.get("last_error") or None,
        "damaged_spools_moved_aside": int(meta.get("damaged_spools_moved_aside", "0")),
        "totals": {k: v for k, v in totals(db).items() if k in TOTALS},
        "schema_version": int(meta["schema_version"]),
    }
