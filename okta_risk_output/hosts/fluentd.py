"""Fluentd's out_exec: one run per buffer chunk, the chunk file's path as the last argument.

Fluentd commits the chunk when the program exits 0 and retries the whole chunk otherwise,
so the exit status says whether every record of the chunk is ours now (spooled,
dead-lettered, or skipped by design). A retried chunk must not be spooled twice: its
SHA-256 digest, and which of its lines are already taken, are kept in a small SQLite file
beside the spool (`<spool>.chunks.db`), never in the spool itself.

With a file buffer the path is Fluentd's own chunk file, so it is only ever read.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Literal

from okta_risk_output.errors import ExitStatus
from okta_risk_output.hosts.accepting import Accepting
from okta_risk_output.intake.loop import MAX_BATCH, LineOutcome
from okta_risk_output.intake.reader import Line, read_lines
from okta_risk_output.observe.logs import log

__all__ = [
    "ChunkFormat",
    "ChunkMemory",
    "ChunkResult",
    "chunk_lines",
    "fluentd_exit_code",
    "memory_path",
    "spool_chunk",
]

REMEMBER_SECONDS = 30 * 86400.0
"""How long a chunk's digest is kept: well past Fluentd's default retry_timeout (72 h)."""

_NOT_TAKEN = frozenset({LineOutcome.REFUSED, LineOutcome.STOPPED})


@dataclass(frozen=True)
class ChunkFormat:
    """How out_exec's <format> wrote the chunk: `json` lines, or `tsv` with these keys."""

    kind: Literal["json", "tsv"] = "json"
    keys: tuple[str, ...] = ("ip", "riskLevel", "message")


@dataclass(frozen=True)
class ChunkResult:
    lines: int
    """Lines taken in this run (those of an earlier, partial run are not counted again)."""
    not_taken: int
    """Lines refused by the overflow policy or cut off by a shutdown: Fluentd must retry."""
    already_done: bool = False
    """The whole chunk had been taken by an earlier run."""
    interrupted: bool = False
    """A shutdown came before the end of the chunk."""

    @property
    def complete(self) -> bool:
        return self.not_taken == 0 and not self.interrupted


def memory_path(spool_path: str) -> str:
    return spool_path + ".chunks.db"


class ChunkMemory:
    """Which chunks (by digest), and which of their lines, are already taken.

    A separate file, so the spool's schema stays the spool's. Being a second database, a
    crash between the spool's commit and this one's can make a retried chunk spool a
    batch twice: at-least-once, like every other duplicate (docs/guarantees.md).
    """

    def __init__(self, path: str) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self._db = sqlite3.connect(path, timeout=30.0, isolation_level=None)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA busy_timeout = 30000")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS chunks (digest TEXT PRIMARY KEY,"
            " complete INTEGER NOT NULL, updated_at REAL NOT NULL)"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS chunk_lines (digest TEXT NOT NULL, line INTEGER NOT NULL,"
            " PRIMARY KEY (digest, line)) WITHOUT ROWID"
        )

    def done_lines(self, digest: str) -> frozenset[int] | None:
        """None when the whole chunk is taken; else the numbers of its lines already taken."""
        row = self._db.execute("SELECT complete FROM chunks WHERE digest = ?", (digest,)).fetchone()
        if row is not None and row[0]:
            return None
        rows = self._db.execute("SELECT line FROM chunk_lines WHERE digest = ?", (digest,))
        return frozenset(r[0] for r in rows)

    def record(self, digest: str, lines: list[int], *, complete: bool = False) -> None:
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT INTO chunks (digest, complete, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (digest) DO UPDATE SET complete = excluded.complete,"
                " updated_at = excluded.updated_at",
                (digest, int(complete), time.time()),
            )
            if complete:
                # The digest alone says it all now; the per-line rows were for a partial run.
                self._db.execute("DELETE FROM chunk_lines WHERE digest = ?", (digest,))
            else:
                self._db.executemany(
                    "INSERT OR IGNORE INTO chunk_lines (digest, line) VALUES (?, ?)",
                    [(digest, n) for n in lines],
                )

    def forget_older_than(self, seconds: float) -> None:
        cutoff = time.time() - seconds
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "DELETE FROM chunk_lines WHERE digest IN"
                " (SELECT digest FROM chunks WHERE updated_at < ?)",
                (cutoff,),
            )
            self._db.execute("DELETE FROM chunks WHERE updated_at < ?", (cutoff,))

    def close(self) -> None:
        self._db.close()


def digest_of(path: str) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 16), b""):
            sha.update(block)
    return sha.hexdigest()


def chunk_lines(stream: BinaryIO, source: str, max_bytes: int, fmt: ChunkFormat) -> Iterator[Line]:
    """The chunk's lines, each a JSON object: TSV rows become {key: value} of the keys.

    A TSV row with another number of columns (a tab inside a value) or not in UTF-8 is
    passed on as it is, so it is dead-lettered with its original text.
    """
    for line in read_lines(stream, source, max_bytes):
        yield line if fmt.kind == "json" or line.oversized else _from_tsv(line, fmt.keys)


def _from_tsv(line: Line, keys: tuple[str, ...]) -> Line:
    try:
        values = line.data.decode("utf-8").split("\t")
    except UnicodeDecodeError:
        return line
    if len(values) != len(keys):
        return line
    # An empty column is a missing field (Fluentd writes "" for a key the record lacks).
    record = {key: value for key, value in zip(keys, values, strict=True) if value != ""}
    if not record:
        return Line(line.source, line.number, b"", 0)
    data = json.dumps(record, ensure_ascii=False).encode("utf-8")
    return Line(line.source, line.number, data, len(data))


def spool_chunk(
    path: str,
    intake: Accepting,
    memory: ChunkMemory,
    *,
    fmt: ChunkFormat,
    max_line_bytes: int,
    stop: threading.Event,
) -> ChunkResult:
    """Take every line of the chunk not taken before; remember what was taken."""
    digest = digest_of(path)
    done = memory.done_lines(digest)
    name = os.path.basename(path)
    if done is None:
        log.info("chunk %s (sha256 %s) was spooled by an earlier run; nothing to do", name, digest)
        return ChunkResult(lines=0, not_taken=0, already_done=True)
    if done:
        log.info("chunk %s: %d lines were taken by an earlier run", name, len(done))
    taken = not_taken = 0
    with open(path, "rb") as stream:
        for batch in _batches(chunk_lines(stream, name, max_line_bytes, fmt), done):
            if stop.is_set():
                return ChunkResult(lines=taken + not_taken, not_taken=not_taken, interrupted=True)
            outcomes = intake.accept_many(batch)
            numbers = [
                ln.number for ln, o in zip(batch, outcomes, strict=True) if o not in _NOT_TAKEN
            ]
            memory.record(digest, numbers)
            taken, not_taken = taken + len(numbers), not_taken + len(batch) - len(numbers)
    if not_taken == 0:
        memory.record(digest, [], complete=True)
    return ChunkResult(lines=taken + not_taken, not_taken=not_taken)


def _batches(lines: Iterator[Line], skip: frozenset[int]) -> Iterator[list[Line]]:
    """Lines not in `skip`, in spool transactions of at most MAX_BATCH."""
    batch: list[Line] = []
    for line in lines:
        if line.number in skip:
            continue
        batch.append(line)
        if len(batch) >= MAX_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def fluentd_exit_code(status: int, result: ChunkResult | None) -> int:
    """0 exactly when every record of the chunk is ours, so that Fluentd commits it.

    `status` is the run's own exit status; `result` is None when the chunk was not read to
    its end (a shutdown, a failure). Okta refusing us (401, 403, 404) is no reason to hand
    the chunk back: its records are spooled and wait for the fix (and a drain), whereas a
    chunk Fluentd retries only waits in Fluentd's buffer instead.
    """
    if status in (ExitStatus.USAGE, ExitStatus.UNEXPECTED, ExitStatus.LOCAL_WRITE_FAILED):
        return status
    if result is None or not result.complete:
        missed = (
            "the chunk was not read to its end"
            if result is None or result.interrupted
            else (f"{result.not_taken} of its records were refused by the overflow policy")
        )
        log.error("chunk not fully spooled (%s); exit 6, so Fluentd retries it", missed)
        return ExitStatus.LOCAL_WRITE_FAILED
    if status != ExitStatus.OK:
        log.warning(
            "delivery is stopped (exit %d otherwise); the chunk is spooled, so exit 0 and "
            "Fluentd commits it: fix the cause and run drain",
            status,
        )
    return ExitStatus.OK
