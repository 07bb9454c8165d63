"""The spool on a real SQLite file: acceptance, leases, fates, overflow, expiry, damage."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from okta_risk_output.delivery.packing import event_of
from okta_risk_output.errors import LocalWriteError
from okta_risk_output.levels import risk_rank
from okta_risk_output.spool import sqlite_fold
from okta_risk_output.spool.sqlite import Spool
from okta_risk_output.spool.store import SpoolPolicy

NOW = 1_800_000_000.0


def event(level: str = "HIGH", ip: str = "192.0.2.1", expires: str | None = None) -> dict[str, Any]:
    made: dict[str, Any] = {"subjects": [{"ip": ip, "riskLevel": level}]}
    if expires:
        made["expiresAt"] = expires
    return made


def fill(spool: Spool, *levels: str) -> None:
    """One signal per level given, each for its own IP (so none coalesces)."""
    for n, level in enumerate(levels, start=1):
        made = event(level, ip=f"192.0.2.{n}")
        assert spool.put(made, source="t", line=n, now=NOW + n).accepted


def take(spool: Spool, limit: int, now: float, seconds: float = 60) -> Any:
    return spool.lease(now, seconds, lambda candidates: candidates[:limit])


def lines_in(spool: Spool, now: float = NOW + 100) -> list[int]:
    lease = take(spool, 1000, now)
    if lease is None:
        return []
    spool.release(lease, lease.signals)
    return [s.line for s in lease.signals]


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    return Spool(str(tmp_path / "spool.db"))


def test_rank_orders_high_first() -> None:
    assert [risk_rank(level) for level in ("HIGH", "MEDIUM", "LOW")] == [0, 1, 2]


def test_a_committed_event_survives_reopening(tmp_path: Path) -> None:
    path = str(tmp_path / "spool.db")
    first = Spool(path)
    first.put(event(), source="a.jsonl", line=7, now=NOW)
    first.close()
    again = Spool(path)
    lease = take(again, 20, NOW)
    assert lease is not None
    (signal,) = lease.signals
    assert (signal.source, signal.line, event_of([signal])) == ("a.jsonl", 7, event())
    assert again.totals()["accepted"] == 1


def test_leases_go_highest_risk_first_then_oldest(spool: Spool) -> None:
    fill(spool, "LOW", "HIGH", "MEDIUM", "HIGH", "LOW")
    assert lines_in(spool) == [2, 4, 3, 1, 5]


def test_two_leases_never_share_an_event_and_an_expired_lease_returns(spool: Spool) -> None:
    fill(spool, "HIGH", "HIGH", "HIGH")
    first = take(spool, 2, NOW)
    second = take(spool, 2, NOW)
    assert first is not None and second is not None
    assert [s.line for s in first.signals] == [1, 2] and [s.line for s in second.signals] == [3]
    assert take(spool, 2, NOW + 59) is None
    taken_over = take(spool, 5, NOW + 61)
    assert taken_over is not None and [s.line for s in taken_over.signals] == [1, 2, 3]


def test_each_fate_is_counted_once(spool: Spool) -> None:
    fill(spool, "HIGH", "HIGH", "HIGH", "HIGH")
    lease = take(spool, 4, NOW)
    assert lease is not None
    one, two, three, four = lease.signals
    assert spool.ack(lease, [one, two]) == 2
    assert spool.ack(lease, [one]) == 0  # already gone: not counted twice
    assert spool.dead(lease, [three]) == 1
    assert spool.retry_later(lease, [four], now=NOW, at=NOW + 30, error="HTTP 503") == 1
    assert spool.ready(NOW + 1, at_most=1000) == (0, None, NOW + 30)
    assert spool.ready(NOW + 30, at_most=1000)[0] == 1
    totals = spool.totals()
    assert (totals["accepted"], totals["delivered"], totals["dead_lettered"]) == (4, 2, 1)
    assert totals["live_events"] == spool.live() == 1
    report = spool.status(NOW + 1)
    assert report["waiting_retry"] == 1 and report["last_error"] == "HTTP 503"


def test_expired_events_are_never_leased_and_are_counted(spool: Spool) -> None:
    spool.put(event(expires="2027-01-15T08:00:10.000Z"), source="t", line=1, now=NOW)
    spool.put(event(ip="192.0.2.2"), source="t", line=2, now=NOW)
    assert lines_in(spool, now=NOW + 20) == [2]
    assert spool.expire(NOW + 20) == [("t", 1)]
    assert spool.totals()["expired"] == 1 and spool.live() == 1


def test_drop_lowest_risk_never_drops_a_high_while_lower_remain(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path / "s.db"), policy=SpoolPolicy(max_events=3))
    fill(spool, "HIGH", "LOW", "MEDIUM")
    result = spool.put(event("HIGH", ip="192.0.2.4"), source="t", line=4, now=NOW + 4)
    assert (result.accepted, result.evicted) == (True, 1)
    assert lines_in(spool) == [1, 4, 3]  # the LOW went first
    result = spool.put(event("HIGH", ip="192.0.2.5"), source="t", line=5, now=NOW + 5)
    assert lines_in(spool) == [1, 4, 5]  # then the MEDIUM
    # Full of HIGH: a new LOW is the lowest-ranked, so it is the one refused.
    assert (
        spool.put(event("LOW", ip="192.0.2.6"), source="t", line=6, now=NOW + 6).accepted is False
    )
    # A new HIGH replaces the oldest HIGH.
    assert spool.put(event("HIGH", ip="192.0.2.7"), source="t", line=7, now=NOW + 7).evicted == 1
    assert lines_in(spool) == [4, 5, 7]
    assert spool.totals()["dropped"] == 3


def test_reject_new_and_byte_limits(tmp_path: Path) -> None:
    # A signal costs its address and message plus 64 bytes: 74 for these.
    spool = Spool(str(tmp_path / "s.db"), policy=SpoolPolicy(max_bytes=100, overflow="reject-new"))
    assert spool.put(event(), source="t", line=1, now=NOW).accepted
    assert spool.put(event(ip="192.0.2.2"), source="t", line=2, now=NOW).accepted is False
    assert not spool.has_room(event(ip="192.0.2.2"))
    assert spool.could_ever_hold(event(ip="192.0.2.2"))
    huge = event()
    huge["subjects"][0]["message"] = "x" * 200
    assert not spool.could_ever_hold(huge)
    assert spool.totals()["dropped"] == 0


def test_leases_of_a_dead_process_return_at_once(tmp_path: Path) -> None:
    path = str(tmp_path / "s.db")
    spool = Spool(path)
    fill(spool, "HIGH")
    lease = take(spool, 1, NOW, 3600)
    assert lease is not None
    # As if a process of this boot and PID namespace that has exited held it.
    host, boot, namespace, _pid, token = lease.id.split(":")
    gone = ":".join((host, boot, namespace, "999999999", token))
    with sqlite3.connect(path) as db:
        db.execute("UPDATE signals SET lease_id = ?", (gone,))
    spool.close()
    assert lines_in(Spool(path), now=NOW + 1) == [1]


@pytest.mark.parametrize(
    ("damage", "why"),
    [
        (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), ""),
        (lambda p: _drop_table(p, "totals"), "not a spool"),
    ],
    ids=["truncated", "tables-missing"],
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
    with pytest.raises(LocalWriteError, match="cannot write the spool"):
        for n in range(10_000):
            big = event(ip=f"2001:db8::{n:x}")
            big["subjects"][0]["message"] = "x" * 500
            spool.put(big, source="t", line=n, now=NOW)
    accepted = spool.totals()["accepted"]
    assert accepted == spool.live() > 0  # what was accepted is all there


def _set_version(path: Path, version: int) -> None:
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(version),))


def _drop_table(path: Path, table: str) -> None:
    with sqlite3.connect(path) as db:
        db.execute(f"DROP TABLE {table}")


def subject_of(spool: Spool) -> Any:
    lease = take(spool, 10, NOW + 100)
    assert lease is not None
    spool.release(lease, lease.signals)
    return [event_of([s]) for s in lease.signals]


def test_a_repeated_ip_merges_highest_level_latest_expiry_both_messages(spool: Spool) -> None:
    first = event("LOW", expires="2027-01-15T09:00:00.000Z")
    first["subjects"][0]["message"] = "Port scan"
    first["timestamp"] = "2027-01-15T07:59:00.000Z"
    second = event("HIGH", expires="2027-01-15T10:00:00.000Z")
    second["subjects"][0]["message"] = "Password spray"
    second["timestamp"] = "2027-01-15T07:59:30.000Z"
    third = event("MEDIUM", expires="2027-01-15T08:30:00.000Z")
    third["subjects"][0]["message"] = "Port scan"
    for n, made in enumerate((first, second, third), start=1):
        assert spool.put(made, source="t", line=n, now=NOW + n).accepted
    assert subject_of(spool) == [
        {
            "timestamp": "2027-01-15T07:59:00.000Z",
            "expiresAt": "2027-01-15T10:00:00.000Z",
            "subjects": [
                {"ip": "192.0.2.1", "riskLevel": "HIGH", "message": "Port scan - Password spray"}
            ],
        }
    ]
    totals = spool.totals()
    assert (totals["accepted"], totals["coalesced"], spool.live()) == (3, 2, 1)


def test_a_merged_message_stays_within_512_characters(spool: Spool) -> None:
    for n, word in enumerate(("a" * 300, "b" * 300), start=1):
        made = event()
        made["subjects"][0]["message"] = word
        spool.put(made, source="t", line=n, now=NOW)
    (merged,) = subject_of(spool)
    assert len(merged["subjects"][0]["message"]) == 512


def test_no_expiry_on_either_side_means_okta_default_which_is_later(spool: Spool) -> None:
    spool.put(event(expires="2027-01-15T09:00:00.000Z"), source="t", line=1, now=NOW)
    spool.put(event(), source="t", line=2, now=NOW)
    (merged,) = subject_of(spool)
    assert "expiresAt" not in merged


def test_coalescing_leaves_a_signal_in_flight_alone_and_can_be_bounded_or_off(
    tmp_path: Path,
) -> None:
    spool = Spool(str(tmp_path / "a.db"))
    spool.put(event(), source="t", line=1, now=NOW)
    in_flight = take(spool, 10, NOW)
    spool.put(event(), source="t", line=2, now=NOW)
    assert in_flight is not None and lines_in(spool, NOW + 1) == [2]
    assert spool.live() == 2 and spool.totals()["coalesced"] == 0
    windowed = Spool(str(tmp_path / "b.db"), policy=SpoolPolicy(coalesce_window=60))
    for line, at in ((1, NOW), (2, NOW + 30), (3, NOW + 120)):
        windowed.put(event(), source="t", line=line, now=at)
    assert lines_in(windowed, NOW + 121) == [1, 3]  # the second within 60 s of the first
    off = Spool(str(tmp_path / "c.db"), policy=SpoolPolicy(coalesce=False))
    off.put(event(), source="t", line=1, now=NOW)
    off.put(event(), source="t", line=2, now=NOW)
    assert lines_in(off, NOW + 1) == [1, 2] and off.live() == 2


def test_intake_appends_and_the_next_step_of_delivery_coalesces(tmp_path: Path) -> None:
    merged: list[int] = []
    spool = Spool(str(tmp_path / "s.db"), on_coalesced=merged.append)
    for n, level in enumerate(("LOW", "HIGH", "MEDIUM"), start=1):
        result = spool.put(event(level), source="t", line=n, now=NOW + n)
        assert (result.accepted, result.coalesced) == (True, 0)
    # Accepted and counted, each as a signal of its own until the inbox is folded.
    assert spool.live() == 3 and spool.status(NOW + 5)["by_risk_level"]["LOW"] == 1
    assert spool.ready(NOW + 5, at_most=10)[:2] == (3, NOW + 1)
    lease = take(spool, 10, NOW + 5)
    assert lease is not None and [(s.line, s.level) for s in lease.signals] == [(1, "HIGH")]
    assert merged == [2] and spool.live() == 1
    totals = spool.totals()
    assert (totals["accepted"], totals["coalesced"]) == (3, 2)
    assert spool.status(NOW + 5)["by_risk_level"] == {"HIGH": 1, "MEDIUM": 0, "LOW": 0}


def test_within_a_level_what_would_expire_waiting_goes_first(spool: Spool) -> None:
    spool.put(event("LOW", ip="192.0.2.1"), source="t", line=1, now=NOW)
    soon = event("LOW", ip="192.0.2.2", expires="2027-01-15T08:05:00.000Z")
    spool.put(soon, source="t", line=2, now=NOW)
    spool.put(event("HIGH", ip="192.0.2.3"), source="t", line=3, now=NOW)
    lease = spool.lease(NOW, 60, lambda c: c, expiring_before=NOW + 600)
    assert lease is not None and [s.line for s in lease.signals] == [3, 2, 1]
    spool.release(lease, lease.signals)
    later = spool.lease(NOW, 60, lambda c: c, expiring_before=NOW + 60)
    assert later is not None and [s.line for s in later.signals] == [3, 1, 2]


def test_the_send_slot_is_shared_by_every_connection(tmp_path: Path) -> None:
    path = str(tmp_path / "s.db")
    one, two = Spool(path), Spool(path)
    assert one.claim_send_slot(NOW, 2.0)[0] == 0.0
    assert two.claim_send_slot(NOW, 2.0)[0] == 0.0  # the bucket holds two
    assert one.claim_send_slot(NOW + 0.5, 2.0) == (1.5, None)
    two.defer_sending(NOW + 10)
    assert one.claim_send_slot(NOW + 3, 2.0) == (7.0, None)
    assert one.claim_send_slot(NOW + 10, 2.0)[0] == 0.0


def test_an_unopenable_spool_is_an_error_and_is_not_moved_aside(tmp_path: Path) -> None:
    folder = tmp_path / "spool.db"
    folder.mkdir()  # a folder where the file should be: not damage, a mistake
    with pytest.raises(LocalWriteError, match="cannot open the spool"):
        Spool(str(folder))
    assert folder.is_dir() and not [p for p in tmp_path.iterdir() if "damaged" in p.name]


def test_low_fills_whatever_room_high_and_medium_leave_in_a_request(spool: Spool) -> None:
    """The starvation rule: LOW waits only while higher-risk signals fill whole requests."""
    from okta_risk_output.delivery.packing import PackLimits, pack

    limits = PackLimits()
    for n in range(1500):
        spool.put(event("LOW", ip=f"2001:db8::{n:x}"), source="t", line=n, now=NOW)
    for n in range(10):
        spool.put(event("HIGH", ip=f"198.51.100.{n}"), source="t", line=2000 + n, now=NOW + 1)

    def choose(candidates: list[Any]) -> list[Any]:
        events, _ = pack(candidates, limits)
        return [s for members in events for s in members]

    first = spool.lease(NOW + 2, 60, choose)
    assert first is not None
    levels = [s.level for s in first.signals]
    assert levels[:10] == ["HIGH"] * 10 and levels[10:] == ["LOW"] * 990


def test_a_long_inbox_is_folded_in_slices_each_its_own_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_fold, "SLICE", 4)
    merged: list[int] = []
    spool = Spool(str(tmp_path / "s.db"), on_coalesced=merged.append)
    addresses = [f"192.0.2.{n % 7 + 1}" for n in range(14)]  # each address twice
    spool.put_many([(event("LOW", ip=ip), "t", n) for n, ip in enumerate(addresses)], now=NOW)
    begun: list[str] = []
    spool._db.set_trace_callback(lambda sql: begun.append(sql) if sql.startswith("BEGIN") else None)
    lease = take(spool, 100, NOW + 1)
    # 14 rows: slices of 4 while more than a slice is left (3), the rest in the lease's own.
    assert len(begun) == 4
    assert lease is not None and [s.line for s in lease.signals] == list(range(7))
    assert sum(merged) == 7 and spool.live() == 7 and spool.status(NOW)["inbox"] == 0


def test_the_leases_of_a_dead_process_merge_into_what_came_for_their_ips(tmp_path: Path) -> None:
    path = str(tmp_path / "s.db")
    spool = Spool(path)
    spool.put(event("LOW"), source="t", line=1, now=NOW)
    lease = take(spool, 1, NOW, 3600)
    assert lease is not None
    spool.put(event("HIGH"), source="t", line=2, now=NOW + 1)  # the same IP, meanwhile
    host, boot, namespace, _pid, token = lease.id.split(":")
    gone = ":".join((host, boot, namespace, "999999999", token))
    with sqlite3.connect(path) as db:
        db.execute("UPDATE signals SET lease_id = ?", (gone,))
    spool.close()
    again = Spool(path)  # the LOW comes back, and merges: one waiting signal per IP
    assert again.live() == 1 and again.totals()["coalesced"] == 1
    left = take(again, 10, NOW + 2)
    assert left is not None and [(s.line, s.level) for s in left.signals] == [(2, "HIGH")]


def test_block_waits_no_longer_than_a_fold_of_repeats_takes(tmp_path: Path) -> None:
    policy = SpoolPolicy(max_events=3, overflow="block")
    spool = Spool(str(tmp_path / "s.db"), policy=policy)
    for n in range(3):
        spool.put(event(), source="t", line=n, now=NOW + n)  # one IP, three rows unmerged
    assert spool.has_room(event(ip="192.0.2.2"))  # folded: one signal, room for two
    assert spool.live() == 1


def test_each_row_merges_by_the_policy_of_the_process_that_took_it(tmp_path: Path) -> None:
    path = str(tmp_path / "s.db")
    keeps_repeats = Spool(path, policy=SpoolPolicy(coalesce=False))
    for n in (1, 2):
        keeps_repeats.put(event(), source="t", line=n, now=NOW)
    drain = Spool(path)  # coalesces, but folds rows another process took with --no-coalesce
    lease = take(drain, 10, NOW + 1)
    assert lease is not None and [s.line for s in lease.signals] == [1, 2]
    assert drain.totals()["coalesced"] == 0
