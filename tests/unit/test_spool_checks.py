"""What opening a spool checks: the cheap checks every time, SQLite's quick_check (every
page read) only after an unclean shutdown or when `status --check` asks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from okta_risk_output.errors import LocalWriteError
from okta_risk_output.spool.sqlite import Spool

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
    return 65536 if size == 1 else size


def test_a_truncated_spool_is_found_by_its_length_on_open(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    _spool_of(path, 5000)
    os.truncate(path, path.stat().st_size - _page_size(path))  # the last page is gone
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
