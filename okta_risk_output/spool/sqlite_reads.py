"""What the SQLite spool reports, changing nothing: signals left, totals, and `status`.

Run under the caller's lock (sqlite.py), never in a write transaction: `status` opens the
spool read-only and must work on a file it may not write. Nothing here walks the backlog:
counts come from the gauges (sqlite_rows.py), in flight from the index of leased signals,
waiting retry from the retry index (as long as what waits for a retry), the oldest from
the first rowid. A spool of schema version 1, which only a writer upgrades, is counted
the old way.
"""

from __future__ import annotations

import os
import sqlite3
from typing import Any

from okta_risk_output.levels import RISK_LEVELS
from okta_risk_output.spool.sqlite_fold import inbox_rows
from okta_risk_output.spool.sqlite_rows import LEVEL_GAUGES, gauge
from okta_risk_output.spool.store import TOTALS

__all__ = ["live", "status", "totals"]

# The first rowid is the oldest accepted (ids follow arrival; a merge keeps the older).
_FIRST_SIGNAL = "SELECT accepted_at FROM signals ORDER BY id LIMIT 1"
_FIRST_IN_INBOX = "SELECT accepted_at FROM inbox ORDER BY id LIMIT 1"


def live(db: sqlite3.Connection) -> int:
    return gauge(db)[0]


def totals(db: sqlite3.Connection) -> dict[str, int]:
    return dict(db.execute("SELECT name, value FROM totals").fetchall())


def status(db: sqlite3.Connection, path: str, now: float) -> dict[str, Any]:
    """The report of Store.status (its keys are listed there)."""
    meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    kept = totals(db)
    version = int(meta["schema_version"])
    if version >= 2:
        by_level = dict(zip(RISK_LEVELS, (kept.get(g, 0) for g in LEVEL_GAUGES), strict=True))
        first = [
            row[0]
            for sql in (_FIRST_SIGNAL, _FIRST_IN_INBOX)
            if (row := db.execute(sql).fetchone()) is not None
        ]
        oldest = min(first) if first else None
        inbox = inbox_rows(db)
    else:
        inbox = 0
        by_level = {level: 0 for level in RISK_LEVELS}
        for rank, count in db.execute("SELECT rank, count(*) FROM signals GROUP BY rank"):
            by_level[RISK_LEVELS[rank]] = count
        (oldest,) = db.execute("SELECT min(accepted_at) FROM signals").fetchone()
    (in_flight,) = db.execute(
        "SELECT count(*) FROM signals WHERE lease_id IS NOT NULL AND lease_expires > ?", (now,)
    ).fetchone()
    (waiting_retry,) = db.execute(
        "SELECT count(*) FROM signals WHERE next_attempt_at > ?", (now,)
    ).fetchone()
    count, size = gauge(db)
    files = [path, path + "-wal"]
    return {
        "spool": path,
        "signals": count,
        "bytes_of_signals": size,
        "file_bytes": sum(os.path.getsize(f) for f in files if os.path.exists(f)),
        "by_risk_level": by_level,
        "inbox": inbox,
        "in_flight": in_flight or 0,
        "waiting_retry": waiting_retry or 0,
        "oldest_age_seconds": None if oldest is None else max(0.0, now - oldest),
        "last_error": meta.get("last_error") or None,
        "damaged_spools_moved_aside": int(meta.get("damaged_spools_moved_aside", "0")),
        "totals": {k: v for k, v in kept.items() if k in TOTALS},
        "schema_version": version,
    }
