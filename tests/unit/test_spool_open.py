"""What opening a spool does: the cheap checks every time, SQLite's quick_check (every page
read) only after an unclean shutdown or when `status --check` asks; a spool of schema
version 1 read as it is by `status`, upgraded by a writer that has it to itself."""

from __future__ import annotations

import fcntl
import os
import sqlite3
from pathlib import Path

import pytest

from okta_risk_output.errors import LocalWriteError
from okta_risk_output.spool.sqlite import Spool
from okta_risk_output.spool.sqlite_file import SCHEMA_VERSION

NOW = 1_800_000_000.0


def _spool_of(path: Path, count: int) -> None:
    spool = Spool(str(path))
    spool.put_many(
        [
            ({"subjects": [{"ip": f"2001:db8::{n + 1:x}", "riskLevel": "LOW"}]}, "t", n)
            for n in range(count)
        ],
        now=NOW,
    )
    spool.close()  # a clean close: SQLite removes the -wal file


def _page_size(path: Path) -> int:
    size = int.from_bytes(path.read_bytes()[16:18], "big")
    return 65536 if size == 1 else size  # how SQLite's header writes 65536


def test_a_truncated_spool_is_found_on_open_without_reading_every_page(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    _spool_of(path, 5000)
    # As if the file lost its last page: its header counts one page more than it holds
    # (SQLite compares the two when it opens the file).
    data = bytearray(path.read_bytes())
    data[28:32] = (int.from_bytes(data[28:32], "big") + 1).to_bytes(4, "big")
    path.write_bytes(bytes(data))
    opened = Spool(str(path))
    assert opened.moved_aside is not None
    assert opened.live() == 0
    opened.close()


def _garble_a_middle_page(path: Path) -> None:
    page = _page_size(path)
    pages = path.stat().st_size // page
    with path.open("r+b") as file:
        file.seek((pages // 2) * page)
        file.write(b"\xa5" * page)


def test_damage_inside_is_found_only_when_asked_or_after_an_unclean_shutdown(
    tmp_path: Path,
) -> None:
    path = tmp_path / "spool.db"
    _spool_of(path, 5000)
    _garble_a_middle_page(path)
    Spool(str(path), read_only=True).close()  # no page read beyond what it needs
    with pytest.raises(LocalWriteError, match="integrity check failed"):
        Spool(str(path), read_only=True, check=True)
    # A -wal file left behind, and no process with the spool open: the last writer was
    # killed, so the writer that opens it now reads every page first.
    (tmp_path / "spool.db-wal").write_bytes(b"left by a writer that was killed")
    opened = Spool(str(path))
    assert opened.moved_aside is not None
    assert opened.live() == 0
    opened.close()


def _as_version_1(path: Path) -> None:
    """What a version 1 program left: no inbox, no index of leases, no level gauges."""
    with sqlite3.connect(path) as db:
        db.execute("DROP TABLE inbox")
        db.execute("DROP INDEX signals_in_flight")
        db.execute("DELETE FROM totals WHERE name IN ('live_high', 'live_medium', 'live_low')")
        db.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    db.close()


def test_a_version_1_spool_is_read_as_it_is_and_upgraded_by_a_writer_alone(
    tmp_path: Path,
) -> None:
    path = tmp_path / "spool.db"
    first = Spool(str(path))
    for n, level in enumerate(("HIGH", "LOW", "LOW"), start=1):
        made = {"subjects": [{"ip": f"192.0.2.{n}", "riskLevel": level}]}
        first.put(made, source="t", line=n, now=NOW)
    lease = first.lease(NOW, 60, lambda c: c)  # folded: all three in `signals`
    assert lease is not None and first.release(lease, lease.signals) == 3
    first.close()
    _as_version_1(path)
    old = Spool(str(path), read_only=True).status(NOW)
    assert (old["schema_version"], old["by_risk_level"]["LOW"], old["inbox"]) == (1, 2, 0)
    holder = os.open(tmp_path / "spool.db.lock", os.O_RDONLY)
    fcntl.flock(holder, fcntl.LOCK_SH)  # as an older program with the spool open would
    with pytest.raises(LocalWriteError, match="stop the other processes"):
        Spool(str(path))
    os.close(holder)
    upgraded = Spool(str(path))
    report = upgraded.status(NOW)
    assert report["schema_version"] == SCHEMA_VERSION == 2
    assert report["by_risk_level"] == {"HIGH": 1, "MEDIUM": 0, "LOW": 2}
    lease = upgraded.lease(NOW, 60, lambda c: c)
    assert lease is not None and [s.line for s in lease.signals] == [1, 2, 3]
    upgraded.close()
