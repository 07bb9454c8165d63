"""The SQLite spool's file: its schema, and opening it without ever harming a file that is
not ours.

Every spool carries a mark in its header (SQLite's application_id, "OKRS"), readable even
when the rest is damaged. Opening checks what the file is before changing anything (not
even the journal mode): another program's database, a file that is not SQLite, or a
spool of a newer schema is refused and left exactly as it is (`NotOurs`). Only a marked
spool that fails to open or its checks (`Damaged`) may be moved aside, by a writer, and
only while no other process has it open: each writer holds a shared flock on PATH.lock,
and the move needs it exclusively.

What is checked costs nothing that grows with the spool, except where it must: every open
checks the tables and the schema version, and, while no process is writing (no -wal
file), that the file is as long as its header says (a truncated copy); SQLite's
quick_check, which reads every page (0.4-0.5 s at a million signals), runs only after an
unclean shutdown (a writer alone with a -wal file left behind: the last one was killed)
and when asked for (`status --check`). Spools made before the mark existed are
recognised by their tables and marked (adopted) on their next open by a writer; tables
added since version 1 are created then too.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import urllib.parse
from datetime import datetime, timezone

from okta_risk_output.observe.logs import log
from okta_risk_output.spool.store import TOTALS

__all__ = [
    "APPLICATION_ID",
    "SCHEMA_VERSION",
    "Damaged",
    "NotOurs",
    "move_aside",
    "open_for_writing",
    "open_read_only",
    "spool_file_kind",
    "take_shared_lock",
]

SCHEMA_VERSION = 1
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


class Damaged(Exception):
    """Our spool, but unusable: it may be moved aside by a writer."""


class NotOurs(Exception):
    """Not a file we may touch: refused, left exactly as it is."""


_NOT_OURS = {
    "foreign": "another program's SQLite database, not a spool; it is left alone",
    "not-sqlite": "not a spool (not an SQLite database at all); it is left alone",
}


def take_shared_lock(path: str) -> int:
    """The shared lock on PATH.lock every writer holds while it has the spool open (its
    folder made first), so that a damaged file is moved aside only when no other process
    is using it. Returns the descriptor; closing it releases the lock."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    return _lock_file(path + ".lock", fcntl.LOCK_SH)


def open_for_writing(
    path: str, shared_lock: int, sync: str, max_pages: int | None
) -> tuple[sqlite3.Connection, str | None]:
    """(the connection, where a damaged spool was moved, if it was) for a writer holding
    `shared_lock`. The caller counts a move in meta (damaged_spools_moved_aside)."""
    kind = spool_file_kind(path)
    if kind in ("foreign", "not-sqlite"):
        raise NotOurs(_NOT_OURS[kind])
    check = _checks_due(path, shared_lock)
    try:
        return _connect(path, sync, max_pages, adopt=kind == "unmarked", check=check), None
    except Damaged as damage:
        if kind != "ours":
            # Unmarked (older spools carry no mark): it may be someone else's file.
            raise NotOurs(
                f"{damage}; it carries no okta-risk-output mark, so it is left alone"
                " (move it aside yourself if it is an old spool)"
            ) from None
        moved = move_aside(path, shared_lock, str(damage))
        return _connect(path, sync, max_pages, adopt=False, check="none"), moved


def _checks_due(path: str, shared_lock: int) -> str:
    """Which check a writer's open makes: "quick" after an unclean shutdown (alone, with a
    -wal file the last writer left: SQLite removes it when the last connection closes),
    "header" while no process writes, "none" while another does (it checked, and a
    checkpoint under way may leave the header ahead of the file for a moment)."""
    wal = _has_wal(path)
    try:
        fcntl.flock(shared_lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return "header" if not wal else "none"
    fcntl.flock(shared_lock, fcntl.LOCK_SH)
    return "quick" if wal else "header"


def _has_wal(path: str) -> bool:
    try:
        return os.path.getsize(path + "-wal") > 0
    except OSError:
        return False


def open_read_only(path: str, *, check: bool = False) -> sqlite3.Connection:
    """For `status`: nothing is created, moved or changed; a missing file, a file that is
    not a spool, a newer or a damaged one is NotOurs. `check`: run SQLite's quick_check
    (every page is read), as `status --check` asks."""
    if not os.path.exists(path):
        raise NotOurs("no such file (nothing was ever spooled there?)")
    kind = spool_file_kind(path)
    if kind in ("foreign", "not-sqlite"):
        raise NotOurs(_NOT_OURS[kind])
    how = "quick" if check else "none" if _has_wal(path) else "header"
    uri = f"file:{urllib.parse.quote(os.path.abspath(path))}?mode=ro"
    db = sqlite3.connect(uri, uri=True, timeout=30.0, isolation_level=None)
    db.execute("PRAGMA busy_timeout = 30000")
    try:
        tables = _tables(db)
        if not tables:
            raise NotOurs("an empty database, not a spool")
        _check(db, tables, path, how)
    except (sqlite3.DatabaseError, Damaged) as exc:
        db.close()
        raise NotOurs(
            f"{exc}; only a command that writes may move a damaged spool aside, so it is left alone"
        ) from exc
    except BaseException:
        db.close()
        raise
    return db


def _connect(
    path: str, sync: str, max_pages: int | None, *, adopt: bool, check: str
) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    try:
        return _prepare(db, path, sync, max_pages, adopt=adopt, check=check)
    except sqlite3.DatabaseError as exc:
        db.close()
        if _is_damage(exc):
            raise Damaged(str(exc)) from exc
        raise
    except (Damaged, NotOurs):
        db.close()
        raise


def _prepare(
    db: sqlite3.Connection,
    path: str,
    sync: str,
    max_pages: int | None,
    *,
    adopt: bool,
    check: str,
) -> sqlite3.Connection:
    db.execute("PRAGMA busy_timeout = 30000")
    # Checked before anything is changed (even the journal mode): a file that turns
    # out not to be ours must be left exactly as it was.
    tables = _tables(db)
    if tables:
        _check(db, tables, path, check)
    mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    # NORMAL in WAL mode: a commit survives a crash of the process (kill -9) at once
    # and a power cut once the WAL is checkpointed; FULL fsyncs every commit.
    db.execute(f"PRAGMA synchronous = {'FULL' if sync == 'full' else 'NORMAL'}")
    if max_pages is not None:
        db.execute(f"PRAGMA max_page_count = {int(max_pages)}")
    if not tables:
        _create(db)
    elif adopt or not tables >= _ADDED_TABLES:
        # Only when there is something to do: a write lock on every open would make
        # each short-lived `enqueue` queue behind a busy drain.
        _upgrade(db, adopt=adopt)
    if mode.lower() != "wal":
        raise Damaged(f"could not switch to WAL mode (got {mode})")
    return db


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


def _check(db: sqlite3.Connection, tables: set[str], path: str, how: str) -> None:
    """The tables and the schema version, then the file's length ("header") or every page
    ("quick"); Damaged or NotOurs when it fails."""
    row = None
    if "meta" in tables:
        row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    version = int(row[0]) if row and str(row[0]).isdigit() else 0
    if version > SCHEMA_VERSION:
        # Never damage: a newer okta-risk-output (perhaps running now) owns this file.
        raise NotOurs(
            f"written by a newer okta-risk-output (spool schema version {version}; this"
            f" program knows {SCHEMA_VERSION}); upgrade this program, the file is left alone"
        )
    if not {"meta", "totals", "signals"} <= tables:
        raise Damaged(f"not a spool (tables: {', '.join(sorted(tables))})")
    if version < 1:
        raise Damaged("the spool has no schema version")
    if how == "header":
        _check_length(db, path)
    elif how == "quick":
        verdict = db.execute("PRAGMA quick_check").fetchone()[0]
        if verdict != "ok":
            raise Damaged(f"integrity check failed: {verdict}")


def _check_length(db: sqlite3.Connection, path: str) -> None:
    """Damaged when the file is shorter than the pages SQLite counts from its header (a
    truncated copy, a disk that filled mid-write): costs the same however large the spool.
    Read through SQLite, never by opening the file ourselves (see spool_file_kind). Only
    sound while no process writes (see _checks_due)."""
    pages = int(db.execute("PRAGMA page_count").fetchone()[0])
    page_size = int(db.execute("PRAGMA page_size").fetchone()[0])
    size = os.path.getsize(path)
    if size < pages * page_size:
        raise Damaged(
            f"the file is truncated: {size} bytes, where its header counts {pages} pages"
            f" of {page_size}"
        )


def move_aside(path: str, shared_lock: int, why: str) -> str:
    """Move the damaged spool at `path` (and its -wal, -shm) to PATH.damaged-<UTC time>;
    returns where. NotOurs when another process has it open."""
    # Only with every other user of the file gone: moving it under a running process
    # would split the queue (that process would go on writing to the moved file).
    try:
        fcntl.flock(shared_lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise NotOurs(
            f"{why}; it is damaged, but another process has it open, so it is left"
            " where it is (stop the other okta-risk-output processes and try again)"
        ) from None
    try:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        target = f"{path}.damaged-{stamp}"
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.replace(path + suffix, target + suffix)
    finally:
        fcntl.flock(shared_lock, fcntl.LOCK_SH)
    log.error(
        "the spool %s is unusable (%s); moved it to %s and started a new one",
        path,
        why,
        target,
    )
    return target


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


def _utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
