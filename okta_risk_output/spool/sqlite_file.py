"""The SQLite spool's file: its schema, and opening it without ever harming a file that is
not ours.

Every spool carries a mark in its header (SQLite's application_id, "OKRS"), readable even
when the rest is damaged. Opening checks what the file is before changing anything (not
even the journal mode): another program's database, a file that is not SQLite, or a
spool of a newer schema is refused and left exactly as it is (`NotOurs`). Only a marked
spool that fails to open or its checks (`Damaged`) may be moved aside, by a writer, and
only while no other process has it open. Each writer holds a flock on PATH.lock while it
has the spool open: exclusive while it opens, if it can have it at once (then it is
alone: only it may move the file, upgrade its schema or judge a -wal file a sign of an
unclean shutdown), shared from then on, or shared from the start when another writer has
it. The lock is never converted from shared to exclusive: Linux drops the shared lock
first, and a conversion that fails would leave the writer holding none.

What an open checks costs nothing that grows with the spool: the tables and the schema
version (SQLite itself refuses a file shorter than its header says). Its quick_check,
which reads every page (0.4-0.5 s at a million signals), runs only after an unclean
shutdown (a writer alone with a -wal file left behind: the last one was killed, or a
`status` closed last, which may not remove it) and when asked for (`status --check`).
Spools made before the mark existed are recognised by their tables and marked (adopted)
on their next open by a writer, which also brings an older schema up to date
(sqlite_schema.py), alone with the file.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import urllib.parse
from datetime import datetime, timezone

from okta_risk_output.observe.logs import log
from okta_risk_output.spool import sqlite_schema
from okta_risk_output.spool.sqlite_schema import APPLICATION_ID, SCHEMA_VERSION

__all__ = [
    "APPLICATION_ID",
    "SCHEMA_VERSION",
    "Damaged",
    "NotOurs",
    "move_aside",
    "open_for_writing",
    "open_read_only",
    "spool_file_kind",
]


class Damaged(Exception):
    """Our spool, but unusable: it may be moved aside by a writer."""


class NotOurs(Exception):
    """Not a file we may touch: refused, left exactly as it is."""


_NOT_OURS = {
    "foreign": "another program's SQLite database, not a spool; it is left alone",
    "not-sqlite": "not a spool (not an SQLite database at all); it is left alone",
}


def open_for_writing(
    path: str, sync: str, max_pages: int | None
) -> tuple[sqlite3.Connection, str | None, int]:
    """(the connection, where a damaged spool was moved if it was, the descriptor of the
    shared lock on PATH.lock, held until the caller closes it). The caller counts a move in
    meta (damaged_spools_moved_aside)."""
    lock, alone = _take_lock(path)
    try:
        db, moved = _open_locked(path, sync, max_pages, alone=alone)
        if alone:
            # Exclusive to shared: other processes may open it now. (Unlike the other
            # way, Linux makes this change in one step; no process can come between.)
            fcntl.flock(lock, fcntl.LOCK_SH)
    except BaseException:
        os.close(lock)
        raise
    return db, moved, lock


def _take_lock(path: str) -> tuple[int, bool]:
    """PATH.lock (its folder made first): exclusively when no other writer holds it (True),
    else shared, waiting while another writer opens the spool exclusively (False)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    # Read-only is enough for flock, so any user who may read the spool may take the lock
    # (the spool's own permissions still decide who may write it); 0644 as SQLite's own.
    fd = os.open(path + ".lock", os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd, True
        except OSError:
            fcntl.flock(fd, fcntl.LOCK_SH)  # held nothing before: nothing to lose
            return fd, False
    except BaseException:
        os.close(fd)
        raise


def _open_locked(
    path: str, sync: str, max_pages: int | None, *, alone: bool
) -> tuple[sqlite3.Connection, str | None]:
    kind = spool_file_kind(path)
    if kind in ("foreign", "not-sqlite"):
        raise NotOurs(_NOT_OURS[kind])
    # Alone with a -wal file: the last writer did not close (SQLite removes it when the
    # last connection closes). With others writing, it is in use, and was checked when
    # its first writer of this run found it so.
    quick = alone and _has_wal(path)
    try:
        connected = _connect(
            path, sync, max_pages, adopt=kind == "unmarked", quick=quick, alone=alone
        )
        return connected, None
    except Damaged as damage:
        if kind != "ours":
            # Unmarked (older spools carry no mark): it may be someone else's file.
            raise NotOurs(
                f"{damage}; it carries no okta-risk-output mark, so it is left alone"
                " (move it aside yourself if it is an old spool)"
            ) from None
        if not alone:
            # Moving it under a running process would split the queue (that process
            # would go on writing to the moved file).
            raise NotOurs(
                f"{damage}; it is damaged, but another process has it open, so it is left"
                " where it is (stop the other okta-risk-output processes and try again)"
            ) from None
        moved = move_aside(path, str(damage))
        return _connect(path, sync, max_pages, adopt=False, quick=False, alone=True), moved


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
    uri = f"file:{urllib.parse.quote(os.path.abspath(path))}?mode=ro"
    db = sqlite3.connect(uri, uri=True, timeout=30.0, isolation_level=None)
    db.execute("PRAGMA busy_timeout = 30000")
    try:
        tables = _tables(db)
        if not tables:
            raise NotOurs("an empty database, not a spool")
        _check(db, tables, quick=check)
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
    path: str, sync: str, max_pages: int | None, *, adopt: bool, quick: bool, alone: bool
) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    try:
        return _prepare(db, sync, max_pages, adopt=adopt, quick=quick, alone=alone)
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
    sync: str,
    max_pages: int | None,
    *,
    adopt: bool,
    quick: bool,
    alone: bool,
) -> sqlite3.Connection:
    db.execute("PRAGMA busy_timeout = 30000")
    # Checked before anything is changed (even the journal mode): a file that turns
    # out not to be ours must be left exactly as it was.
    tables = _tables(db)
    version = _check(db, tables, quick=quick) if tables else SCHEMA_VERSION
    mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    # NORMAL in WAL mode: a commit survives a crash of the process (kill -9) at once
    # and a power cut once the WAL is checkpointed; FULL fsyncs every commit.
    db.execute(f"PRAGMA synchronous = {'FULL' if sync == 'full' else 'NORMAL'}")
    # 16 MB of page cache (SQLite's default is 2 MB): a fold's index on addresses and a
    # lease's walk of the priority index stay in memory up to a few hundred thousand
    # signals, within the 100 MB a run may use.
    db.execute("PRAGMA cache_size = -16384")
    if max_pages is not None:
        db.execute(f"PRAGMA max_page_count = {int(max_pages)}")
    if not tables:
        sqlite_schema.create(db)
    elif adopt or version < SCHEMA_VERSION or not tables >= sqlite_schema.ADDED_TABLES:
        # Only when there is something to do: a write lock on every open would make
        # each short-lived `enqueue` queue behind a busy drain.
        if version < SCHEMA_VERSION and not alone:
            raise NotOurs(
                f"it is a spool of schema version {version}, which this program upgrades to"
                f" {SCHEMA_VERSION} on open, but another process has it open (an older"
                " okta-risk-output?); stop the other processes and start again, the file is"
                " left alone"
            )
        sqlite_schema.upgrade(db, adopt=adopt, version=version)
    if mode.lower() != "wal":
        raise Damaged(f"could not switch to WAL mode (got {mode})")
    return db


def _check(db: sqlite3.Connection, tables: set[str], *, quick: bool) -> int:
    """The tables and the schema version (returned), and with `quick` every page; Damaged
    or NotOurs when it fails."""
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
    if quick:
        try:
            verdict = db.execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.DatabaseError as exc:  # a page too garbled for a verdict
            verdict = str(exc)
        if verdict != "ok":
            raise Damaged(f"integrity check failed: {verdict}")
    return version


def move_aside(path: str, why: str) -> str:
    """Move the damaged spool at `path` (and its -wal, -shm) to PATH.damaged-<UTC time>;
    returns where. Only for a writer holding PATH.lock exclusively (no other user)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target = f"{path}.damaged-{stamp}"
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.replace(path + suffix, target + suffix)
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


def _is_damage(error: sqlite3.DatabaseError) -> bool:
    """Only a file that is not a database, or a corrupt one, is damage to move aside."""
    code = getattr(error, "sqlite_errorcode", None)  # Python 3.11 and newer
    if code is not None:
        return code in (11, 26)  # SQLITE_CORRUPT, SQLITE_NOTADB
    text = str(error)
    return "not a database" in text or "malformed" in text
