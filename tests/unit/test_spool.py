"""The spool on a real SQLite file: acceptance, leases, fates, overflow, expiry, damage."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from okta_risk_output.errors import LocalWriteError
from okta_risk_output.spool import SCHEMA_VERSION, Spool, SpoolLimits, risk_rank

NOW = 1_800_000_000.0


def event(level: str = "HIGH", ip: str = "192.0.2.1", expires: str | None = None) -> dict[str, Any]:
    made: dict[str, Any] = {"subjects": [{"ip": ip, "riskLevel": level}]}
    if expires:
        made["expiresAt"] = expires
    return made


def fill(spool: Spool, *levels: str) -> None:
    for n, level in enumerate(levels, start=1):
        assert spool.put(event(level), source="t", line=n, now=NOW + n).accepted


def lines_in(spool: Spool, now: float = NOW + 100) -> list[int]:
    lease = spool.lease(1000, now, 60)
    if lease is None:
        return []
    spool.release(lease.events)
    return [e.line for e in lease.events]


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    return Spool(str(tmp_path / "spool.db"))


def test_rank_is_the_highest_level_of_any_subject() -> None:
    assert risk_rank(event("LOW")) == 2
    assert risk_rank({"subjects": [{"riskLevel": "LOW"}, {"riskLevel": "MEDIUM"}]}) == 1
    assert risk_rank({"subjects": [{"riskLevel": "HIGH"}, {"riskLevel": "LOW"}]}) == 0


def test_a_committed_event_survives_reopening(tmp_path: Path) -> None:
    path = str(tmp_path / "spool.db")
    first = Spool(path)
    first.put(event(), source="a.jsonl", line=7, now=NOW)
    first.close()
    again = Spool(path)
    lease = again.lease(20, NOW, 60)
    assert lease is not None
    assert [(e.source, e.line, e.event) for e in lease.events] == [("a.jsonl", 7, event())]
    assert again.totals()["accepted"] == 1


def test_leases_go_highest_risk_first_then_oldest(spool: Spool) -> None:
    fill(spool, "LOW", "HIGH", "MEDIUM", "HIGH", "LOW")
    assert lines_in(spool) == [2, 4, 3, 1, 5]


def test_two_leases_never_share_an_event_and_an_expired_lease_returns(spool: Spool) -> None:
    fill(spool, "HIGH", "HIGH", "HIGH")
    first = spool.lease(2, NOW, 60)
    second = spool.lease(2, NOW, 60)
    assert first is not None and second is not None
    assert [e.line for e in first.events] == [1, 2] and [e.line for e in second.events] == [3]
    assert spool.lease(2, NOW + 59, 60) is None
    taken_over = spool.lease(5, NOW + 61, 60)
    assert taken_over is not None and [e.line for e in taken_over.events] == [1, 2, 3]


def test_each_fate_is_counted_once(spool: Spool) -> None:
    fill(spool, "HIGH", "HIGH", "HIGH", "HIGH")
    lease = spool.lease(4, NOW, 60)
    assert lease is not None
    one, two, three, four = lease.events
    assert spool.ack([one, two]) == 2
    assert spool.ack([one]) == 0  # already gone: not counted twice
    assert spool.dead([three]) == 1
    spool.retry_later([four], now=NOW, at=NOW + 30, error="HTTP 503")
    assert spool.ready(NOW + 1) == (0, None, NOW + 30)
    assert spool.ready(NOW + 30)[0] == 1
    totals = spool.totals()
    assert (totals["accepted"], totals["delivered"], totals["dead_lettered"]) == (4, 2, 1)
    assert totals["live_events"] == spool.live() == 1
    report = spool.status(NOW + 1)
    assert report["waiting_retry"] == 1 and report["last_error"] == "HTTP 503"


def test_expired_events_are_never_leased_and_are_counted(spool: Spool) -> None:
    spool.put(event(expires="2027-01-15T08:00:10.000Z"), source="t", line=1, now=NOW)
    spool.put(event(), source="t", line=2, now=NOW)
    assert lines_in(spool, now=NOW + 20) == [2]
    assert spool.expire(NOW + 20) == [("t", 1)]
    assert spool.totals()["expired"] == 1 and spool.live() == 1


def test_drop_lowest_risk_never_drops_a_high_while_lower_remain(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path / "s.db"), limits=SpoolLimits(max_events=3))
    fill(spool, "HIGH", "LOW", "MEDIUM")
    result = spool.put(event("HIGH"), source="t", line=4, now=NOW + 4)
    assert (result.accepted, result.evicted) == (True, 1)
    assert lines_in(spool) == [1, 4, 3]  # the LOW went first
    result = spool.put(event("HIGH"), source="t", line=5, now=NOW + 5)
    assert lines_in(spool) == [1, 4, 5]  # then the MEDIUM
    # Full of HIGH: a new LOW is the lowest-ranked, so it is the one refused.
    assert spool.put(event("LOW"), source="t", line=6, now=NOW + 6).accepted is False
    # A new HIGH replaces the oldest HIGH.
    assert spool.put(event("HIGH"), source="t", line=7, now=NOW + 7).evicted == 1
    assert lines_in(spool) == [4, 5, 7]
    assert spool.totals()["dropped"] == 3


def test_reject_new_and_byte_limits(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path / "s.db"), limits=SpoolLimits(max_bytes=80, overflow="reject-new"))
    assert spool.put(event(), source="t", line=1, now=NOW).accepted
    assert spool.put(event(), source="t", line=2, now=NOW).accepted is False
    assert spool.has_room()  # 27 bytes left: a smaller event would still fit
    assert spool.totals()["dropped"] == 0


def test_leases_of_a_dead_process_return_at_once(tmp_path: Path) -> None:
    path = str(tmp_path / "s.db")
    spool = Spool(path)
    fill(spool, "HIGH")
    lease = spool.lease(1, NOW, 3600)
    assert lease is not None
    with sqlite3.connect(path) as db:  # as if a process that has exited held it
        db.execute("UPDATE events SET lease_id = ?", (f"{os.uname().nodename}:999999999:x",))
    spool.close()
    assert lines_in(Spool(path), now=NOW + 1) == [1]


@pytest.mark.parametrize(
    ("damage", "why"),
    [
        (lambda p: p.write_bytes(b"this is not a database at all" * 100), "not a database"),
        (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), ""),
        (lambda p: _set_version(p, SCHEMA_VERSION + 1), "newer than this program"),
        (lambda p: _drop_table(p, "totals"), "not a spool"),
    ],
    ids=["garbage", "truncated", "newer-version", "foreign-database"],
)
def test_a_damaged_spool_is_moved_aside_and_a_new_one_started(
    tmp_path: Path, damage: Any, why: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "spool.db"
    first = Spool(str(path))
    fill(first, *["HIGH"] * 200)
    first.close()
    damage(path)
    again = Spool(str(path))
    assert again.moved_aside is not None and Path(again.moved_aside).exists()
    assert again.live() == 0
    assert again.status(NOW)["damaged_spools_moved_aside"] == 1
    again.put(event(), source="t", line=1, now=NOW)
    assert again.live() == 1


def test_a_full_disk_is_an_error_not_a_silent_loss(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path / "s.db"), max_pages=40)
    big = event(ip="192.0.2.9")
    big["subjects"][0]["message"] = "x" * 500
    with pytest.raises(LocalWriteError, match="cannot write the spool"):
        for n in range(10_000):
            spool.put(big, source="t", line=n, now=NOW)
    accepted = spool.totals()["accepted"]
    assert accepted == spool.live() > 0  # what was accepted is all there


def _set_version(path: Path, version: int) -> None:
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(version),))


def _drop_table(path: Path, table: str) -> None:
    with sqlite3.connect(path) as db:
        db.execute(f"DROP TABLE {table}")
