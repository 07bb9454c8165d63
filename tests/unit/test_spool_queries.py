"""No step of the SQLite spool reads its whole backlog: every statement a workload of every
operation runs walks an index (or the rowid from one end) and stops at its LIMIT or range.
Checked by SQLite's own query plans, on the statements as they ran (the trace gives them
with their values)."""

from __future__ import annotations

import fcntl
import os
import re
import sqlite3
from pathlib import Path
from typing import Any

from okta_risk_output.spool.sqlite import Spool
from okta_risk_output.spool.store import SpoolPolicy

NOW = 1_800_000_000.0


def _event(n: int, level: str = "LOW") -> dict[str, Any]:
    made: dict[str, Any] = {"subjects": [{"ip": f"2001:db8::{n:x}", "riskLevel": level}]}
    if n % 5 == 0:
        made["expiresAt"] = "2027-01-15T08:00:00.000Z"
    return made


def _every_operation(spool: Spool) -> None:
    spool.put_many([(_event(n), "t", n) for n in range(1, 3001)], now=NOW)
    first = spool.lease(NOW, 60, lambda c: c[:200], expiring_before=NOW + 600)
    assert first is not None
    spool.retry_later(first, first.signals[:100], now=NOW, at=NOW + 600, error="HTTP 503")
    spool.renew(first, NOW, 60, first.signals[100:])
    spool.ack(first, first.signals[100:150])
    spool.dead(first, first.signals[150:175])
    spool.release(first, first.signals[175:])
    spool.put_many([(_event(n, "HIGH"), "t", n) for n in range(5001, 5600)], now=NOW + 1)
    spool.ready(NOW + 1, at_most=1000)
    spool.has_room(_event(9999))
    spool.expire(NOW + 2)
    spool.cap_stored_times(NOW + 2, retry=3600, lease=60)
    slot = spool.claim_send_slot(NOW + 2, 2.0, window=60, limit=30)[1]
    assert slot is not None
    spool.finish_send(slot, NOW + 3)
    spool.defer_sending(NOW + 10)
    spool.live()
    spool.totals()
    spool.status(NOW + 3)


def _plan(spool: Spool, sql: str) -> list[str]:
    # The trace writes an infinite bound (no coalescing window, no horizon) as Inf, which
    # SQL reads as a column name; 1e999 is how SQL writes it.
    sql = re.sub(r"\bInf\b", "1e999", sql)
    return [row[3] for row in spool._db.execute("EXPLAIN QUERY PLAN " + sql)]


def _reads_every_row(sql: str, plan: list[str]) -> bool:
    """A scan of `signals` with no index, unless it reads from one end of the rowids and
    stops (ORDER BY id LIMIT n: the oldest)."""
    return "SCAN signals" in plan and not re.search(r"ORDER BY id LIMIT \d+\s*$", sql)


def test_no_step_of_the_spool_scans_its_signals(tmp_path: Path) -> None:
    path = str(tmp_path / "spool.db")
    # Full at 3,500: the later puts take the overflow path (fold, then subject by subject).
    spool = Spool(path, policy=SpoolPolicy(max_events=3500))
    ran: list[str] = []
    spool._db.set_trace_callback(ran.append)
    _every_operation(spool)
    spool._db.set_trace_callback(None)
    assert spool.totals()["dropped"] > 0  # the overflow path ran
    scans = {}
    for sql in set(ran):
        if not sql.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE", "INSERT")):
            continue
        plan = _plan(spool, sql)
        if _reads_every_row(sql, plan):
            scans[sql[:160]] = plan
    assert scans == {}


def test_opening_a_spool_beside_a_running_writer_scans_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "spool.db")
    running = Spool(path)
    running.put_many([(_event(n), "t", n) for n in range(1, 2001)], now=NOW)
    assert running.lease(NOW, 60, lambda c: c[:10]) is not None
    ran: list[str] = []
    real_connect = sqlite3.connect

    def traced(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        db = real_connect(*args, **kwargs)
        db.set_trace_callback(ran.append)
        return db

    sqlite3.connect = traced  # type: ignore[assignment]
    try:
        second = Spool(path)
    finally:
        sqlite3.connect = real_connect  # type: ignore[assignment]
    plans = [
        (sql, _plan(second, sql))
        for sql in set(ran)
        if sql.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE"))
        and "sqlite_master" not in sql
    ]
    assert not [p for sql, p in plans if _reads_every_row(sql, p)]
    # And the second writer holds its lock: no third may take it exclusively.
    probe = os.open(path + ".lock", os.O_RDONLY)
    running.close()
    try:
        try:
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            pass
        else:
            raise AssertionError("the second writer lost its lock on the spool")
    finally:
        os.close(probe)
        second.close()
