"""The SQLite spool's schema: its tables and indexes, the version it carries, creating it
and bringing an older one up to date. sqlite_file.py decides when (opening a file).
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

from okta_risk_output.spool.sqlite_rows import LEVEL_GAUGES
from okta_risk_output.spool.store import TOTALS

__all__ = ["ADDED_TABLES", "APPLICATION_ID", "SCHEMA_VERSION", "create", "upgrade"]

SCHEMA_VERSION = 2
"""Version 2 added the inbox and the level gauges (older programs would ignore the inbox
and let those gauges drift, so they must refuse a version 2 file); version 1 spools are
upgraded on open by a writer that has the file to itself."""
APPLICATION_ID = 0x4F4B5253
"""SQLite's application_id of every spool ("OKRS"): the mark that tells our files from
another program's, kept in the header so it is readable even when the rest is damaged."""

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
# Added after version 1 shipped.
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
    # Version 2. Intake appends here: a table with no index but its rowid, so that a
    # commit writes pages at its end only, however large the spool (an index on random
    # addresses dirties a page per row). Delivery folds it into `signals` (sqlite_fold.py).
    # Rowids may be reused once it is empty: nothing outside one transaction names them.
    """CREATE TABLE IF NOT EXISTS inbox (
        id INTEGER PRIMARY KEY,
        ip TEXT NOT NULL,
        rank INTEGER NOT NULL,
        message TEXT,
        event_ts REAL,
        expires_at REAL,
        accepted_at REAL NOT NULL,
        source TEXT NOT NULL,
        line INTEGER NOT NULL,
        size INTEGER NOT NULL,
        coalesce INTEGER NOT NULL,
        coalesce_window REAL
    )""",
    # (coalesce, coalesce_window: the policy of the process that accepted the row, which
    # the fold applies, whichever process folds.)
    # Only the signals in flight (a few requests' worth): finding leases, their holders
    # and counting them never walks the backlog.
    "CREATE INDEX IF NOT EXISTS signals_in_flight ON signals (lease_id) WHERE lease_id IS NOT NULL",
]
ADDED_TABLES = {"sends", "inbox"}
_SCHEMA += _ADDED
# Gauges kept beside the totals, so that no write and no `status` has to count the table.
_GAUGES = ("live_events", "live_bytes", *LEVEL_GAUGES)


def create(db: sqlite3.Connection) -> None:
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


def upgrade(db: sqlite3.Connection, *, adopt: bool, version: int) -> None:
    """Bring an older spool up to date: the mark on spools made before it existed, the
    tables added since, and version 1 to 2 (the inbox, the level gauges counted once).
    From version 1 only with the file to ourselves (the caller makes sure): an older
    program still running on it would go on writing without the inbox and the gauges."""
    db.execute("BEGIN IMMEDIATE")
    if adopt:
        db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    for statement in _ADDED:
        db.execute(statement)
    if version < 2:
        for rank, name in enumerate(LEVEL_GAUGES):
            db.execute(
                "INSERT OR REPLACE INTO totals (name, value)"
                " SELECT ?, count(*) FROM signals WHERE rank = ?",
                (name, rank),
            )
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
    db.execute("COMMIT")


def _utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
