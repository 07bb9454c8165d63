"""The spool shared by processes that stall, die or disagree about the time (issue 11).

Each test plays two or more connections on one real spool file, as two processes would,
with times given explicitly: one of them "paused for a minute" is one whose `now` lags.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from okta_risk_output.errors import LocalWriteError
from okta_risk_output.spool.holders import holder_is_dead, new_lease_id
from okta_risk_output.spool.sqlite import Spool
from okta_risk_output.spool.sqlite_file import APPLICATION_ID, SCHEMA_VERSION
from okta_risk_output.spool.store import SpoolPolicy

NOW = 1_800_000_000.0
IP = "198.51.100.7"


def event(level: str, ip: str = IP) -> dict[str, Any]:
    return {"subjects": [{"ip": ip, "riskLevel": level}]}


def take(spool: Spool, now: float, seconds: float = 30.0) -> Any:
    return spool.lease(now, seconds, lambda candidates: candidates)


def enqueue(spool_path: Path, *lines: dict[str, Any]) -> None:
    """A real `enqueue` process: what a host starts for each batch."""
    data = "".join(json.dumps(line) + "\n" for line in lines).encode()
    subprocess.run(
        [sys.executable, "-m", "okta_risk_output", "enqueue", "--spool", str(spool_path),
         "--dead-letter", str(spool_path.parent / "dl.jsonl")],
        input=data, check=True, capture_output=True, timeout=60,
    )  # fmt: skip


# -- 1. settling only by one's own lease -------------------------------------------------


def test_a_late_process_cannot_settle_signals_another_has_taken_over(tmp_path: Path) -> None:
    """Found by an adversary: the late process cleared the live lease, a HIGH merged into
    the in-flight LOW, and the live process's 202 then deleted the HIGH unsent."""
    path = tmp_path / "spool.db"
    late, live = Spool(str(path)), Spool(str(path))
    live.put(event("LOW"), source="t", line=1, now=NOW)
    stale = take(late, NOW)  # leased, then this process stalls past the lease
    current = take(live, NOW + 31)  # the lease ran out: the other process takes over
    assert stale is not None and current is not None
    assert late.release(stale, stale.signals) == 0  # it wakes up: changes nothing
    assert late.retry_later(stale, stale.signals, now=NOW + 32, at=NOW + 99, error="x") == 0
    enqueue(path, {"ip": IP, "riskLevel": "HIGH", "message": "spray"})
    assert live.ack(current, current.signals) == 1  # the LOW that was sent leaves
    assert late.ack(stale, stale.signals) == 0 and late.dead(stale, stale.signals) == 0
    left = take(live, NOW + 40)
    assert left is not None and [(s.ip, s.level) for s in left.signals] == [(IP, "HIGH")]
    totals = live.totals()
    assert (totals["accepted"], totals["delivered"], totals["coalesced"]) == (2, 1, 0)


def test_nothing_merges_into_a_signal_in_flight_even_once_its_lease_ran_out(
    tmp_path: Path,
) -> None:
    spool = Spool(str(tmp_path / "spool.db"))
    spool.put(event("LOW"), source="t", line=1, now=NOW)
    lease = take(spool, NOW, seconds=5)
    assert lease is not None
    # Past the lease, but nobody took it over: its holder may still be sending the LOW.
    assert spool.put(event("HIGH"), source="t", line=2, now=NOW + 60).accepted
    spool.expire(NOW + 60)  # folds the inbox while the LOW is in flight
    assert spool.ack(lease, lease.signals) == 1
    left = take(spool, NOW + 61)
    assert left is not None and [s.level for s in left.signals] == ["HIGH"]


def test_a_signal_back_from_a_failed_request_merges_into_the_one_that_came_meanwhile(
    tmp_path: Path,
) -> None:
    """Else the IP waits twice, and the LOW could reach Okta after the HIGH."""
    spool = Spool(str(tmp_path / "spool.db"))
    spool.put(event("LOW"), source="t", line=1, now=NOW)
    lease = take(spool, NOW)
    assert spool.put(event("HIGH"), source="t", line=2, now=NOW + 1).coalesced == 0
    assert spool.retry_later(lease, lease.signals, now=NOW + 2, at=NOW + 60, error="503") == 1
    waiting = take(spool, NOW + 3)
    assert waiting is not None and [(s.line, s.level) for s in waiting.signals] == [(2, "HIGH")]
    totals = spool.totals()
    assert (totals["accepted"], totals["coalesced"], spool.live()) == (2, 1, 1)


def test_renewing_tells_which_signals_a_lease_still_holds(tmp_path: Path) -> None:
    path = str(tmp_path / "spool.db")
    one, two = Spool(path), Spool(path)
    for n in range(3):
        one.put(event("HIGH", ip=f"198.51.100.{n + 1}"), source="t", line=n + 1, now=NOW)
    first = take(one, NOW)
    assert first is not None
    assert one.renew(first, NOW + 20, 30) == first.signals  # all held: expiry moves on
    assert take(two, NOW + 40) is None  # renewed at +20 for 30 s: still held at +40
    taken = take(two, NOW + 51)
    assert taken is not None
    assert one.renew(first, NOW + 52, 30) == []  # held by the other process now


# -- 2. judging a holder dead only where that is sound ------------------------------------


def test_a_holder_in_another_pid_namespace_or_boot_is_never_judged_dead() -> None:
    host, boot, namespace, _pid, token = new_lease_id(90).split(":")
    missing = "999999999"
    assert holder_is_dead(":".join((host, boot, namespace, missing, token)))
    assert not holder_is_dead(":".join((host, boot, "4026531999.1", missing, token)))
    assert not holder_is_dead(":".join((host, "0" * 32, namespace, missing, token)))
    assert not holder_is_dead(":".join(("another-host", boot, namespace, missing, token)))
    assert not holder_is_dead(f"{host}:{missing}:{token}")  # the older form: wait for expiry
    assert not holder_is_dead(":".join((host, boot, namespace, str(os.getpid()), token)))


def test_enqueue_never_releases_a_live_lease_held_in_another_pid_namespace(
    tmp_path: Path,
) -> None:
    """Containers sharing a volume and a host name: a PID from the other namespace is
    absent here, which says nothing about whether its process runs."""
    path = tmp_path / "spool.db"
    holder = Spool(str(path))
    holder.put(event("LOW"), source="t", line=1, now=NOW)
    lease = take(holder, NOW, seconds=10**6)
    assert lease is not None
    host, boot, _namespace, _pid, token = lease.id.split(":")
    elsewhere = ":".join((host, boot, "4026531999.7", "999999999", token))
    with sqlite3.connect(path) as db:
        db.execute("UPDATE signals SET lease_id = ?", (elsewhere,))
    enqueue(path, {"ip": "198.51.100.8", "riskLevel": "LOW"})
    with sqlite3.connect(path) as db:
        held = db.execute("SELECT count(*) FROM signals WHERE lease_id = ?", (elsewhere,))
        assert held.fetchone()[0] == 1


# -- 4. the window shared by every process -----------------------------------------------


def test_processes_sharing_a_spool_never_exceed_the_rate_in_any_window(tmp_path: Path) -> None:
    """Each process alone kept 30 per 60 s; together they sent 31 (the bucket's burst)."""
    path = str(tmp_path / "spool.db")
    spools = [Spool(path), Spool(path)]
    limit, window, interval = 5, 10.0, 2.0
    starts: list[float] = []
    now = NOW
    while now < NOW + 60:
        for spool in spools:
            _, slot = spool.claim_send_slot(now, interval, window=window, limit=limit, hold=30.0)
            if slot is not None:
                starts.append(now)
                spool.finish_send(slot, now + 0.05)  # a quick answer
        now += 0.05
    for start in starts:
        within = [s for s in starts if start <= s < start + window]
        assert len(within) <= limit, (start, within)
    assert len(starts) >= 5 * limit  # and it does send at the rate


def test_a_request_in_flight_counts_in_the_window_until_it_ends(tmp_path: Path) -> None:
    path = str(tmp_path / "spool.db")
    one, two = Spool(path), Spool(path)
    _, slot = one.claim_send_slot(NOW, 0.0, window=10, limit=1, hold=30)
    assert slot is not None
    wait, none = two.claim_send_slot(NOW + 5, 0.0, window=10, limit=1, hold=30)
    assert none is None and wait == pytest.approx(35.0)  # may end as late as NOW + 30
    one.finish_send(slot, NOW + 6)
    assert two.claim_send_slot(NOW + 7, 0.0, window=10, limit=1, hold=30) == (
        pytest.approx(9.0),
        None,
    )
    assert two.claim_send_slot(NOW + 16, 0.0, window=10, limit=1, hold=30)[1] is not None


# -- 5. stored times are capped by their bounds -----------------------------------------


def test_a_send_time_stored_by_a_clock_a_day_ahead_counts_as_the_longest_wait(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = Spool(str(tmp_path / "spool.db"))
    spool.defer_sending(NOW + 86_400)  # written while this host's clock was a day ahead
    wait, slot = spool.claim_send_slot(NOW, 2.0, longest=122.0)
    assert slot is None and wait == pytest.approx(122.0)
    assert "a clock that was ahead" in caplog.text
    assert spool.claim_send_slot(NOW + 122, 2.0, longest=122.0)[1] is not None


def test_retry_and_lease_times_beyond_their_bounds_are_brought_back(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path / "spool.db"))
    spool.put(event("HIGH"), source="t", line=1, now=NOW)
    spool.put(event("HIGH", ip="198.51.100.9"), source="t", line=2, now=NOW)
    first = spool.lease(NOW + 86_400, 30, lambda c: c[:1])  # a clock a day ahead
    assert first is not None
    second = spool.lease(NOW + 86_400, 30, lambda c: c[:1])
    assert second is not None
    spool.retry_later(second, second.signals, now=NOW + 86_400, at=NOW + 86_460, error="x")
    assert spool.ready(NOW, at_most=10)[0] == 0
    assert spool.cap_stored_times(NOW, retry=120.0, lease=60.0) == 2
    assert spool.ready(NOW + 60, at_most=10)[0] == 1  # the lease ran out after its length
    assert spool.ready(NOW + 120, at_most=10)[0] == 2  # the retry after the longest wait


def test_a_longer_lease_of_another_process_is_not_cut_to_this_ones_length(
    tmp_path: Path,
) -> None:
    """A process with --timeout 120 holds its signals for 270 s; one with --timeout 30
    must not cap that at its own 90 s and take them over mid-request."""
    path = str(tmp_path / "spool.db")
    patient, hasty = Spool(path), Spool(path)
    patient.put(event("HIGH"), source="t", line=1, now=NOW)
    long_lease = patient.lease(NOW, 270, lambda c: c)
    assert long_lease is not None
    assert hasty.cap_stored_times(NOW, retry=120.0, lease=90.0) == 0
    assert take(hasty, NOW + 200) is None
    assert take(hasty, NOW + 271) is not None


# -- 11. overflow never drops a HIGH while LOW remain, in flight or not -----------------


def test_overflow_keeps_a_new_high_when_the_low_that_fill_the_spool_are_in_flight(
    tmp_path: Path,
) -> None:
    spool = Spool(str(tmp_path / "spool.db"), policy=SpoolPolicy(max_events=3))
    spool.put(event("HIGH", ip="198.51.100.1"), source="t", line=1, now=NOW)
    for n in (2, 3):
        spool.put(event("LOW", ip=f"198.51.100.{n}"), source="t", line=n, now=NOW)
    lows = spool.lease(NOW, 30, lambda c: [s for s in c if s.level == "LOW"])
    assert lows is not None and len(lows.signals) == 2
    result = spool.put(event("HIGH", ip="198.51.100.4"), source="t", line=4, now=NOW)
    assert result.accepted and result.evicted == 0
    assert spool.live() == 4  # over the cap by what is in flight, until it is settled
    # A LOW is still refused: the exception is for higher-risk work only.
    assert not spool.put(event("LOW", ip="198.51.100.5"), source="t", line=5, now=NOW).accepted


@pytest.mark.parametrize("overflow", ["block", "reject-new", "drop-lowest-risk"])
def test_a_subject_refused_by_a_full_spool_never_vanishes_from_a_kept_event(
    tmp_path: Path, overflow: str
) -> None:
    """Found by a second reader: with a cap of 3, an event of 3 subjects after one signal
    kept 2 of them and counted the line as spooled; the third left no trace."""
    spool = Spool(str(tmp_path / "spool.db"), policy=SpoolPolicy(max_events=3, overflow=overflow))
    spool.put(event("LOW", ip="198.51.100.1"), source="t", line=1, now=NOW)
    three = {"subjects": [{"ip": f"198.51.100.{n}", "riskLevel": "LOW"} for n in (2, 3, 4)]}
    result = spool.put(three, source="t", line=2, now=NOW)
    totals = spool.totals()
    if overflow == "drop-lowest-risk":  # the oldest LOW made room; none refused
        assert result.accepted and spool.live() == 3 and totals["dropped"] == 1
    else:  # all or nothing: the line is refused (block waits for room for all of it)
        assert not result.accepted and spool.live() == 1 and totals["accepted"] == 1
    assert totals["accepted"] == totals["dropped"] + spool.live()


def test_under_drop_lowest_risk_a_refused_subject_of_a_kept_event_counts_as_dropped(
    tmp_path: Path,
) -> None:
    spool = Spool(str(tmp_path / "spool.db"), policy=SpoolPolicy(max_events=2))
    for n in (1, 2):
        spool.put(event("HIGH", ip=f"198.51.100.{n}"), source="t", line=n, now=NOW)
    mixed = {
        "subjects": [
            {"ip": "198.51.100.3", "riskLevel": "HIGH"},
            {"ip": "198.51.100.4", "riskLevel": "LOW"},
        ]
    }
    result = spool.put(mixed, source="t", line=3, now=NOW)
    totals = spool.totals()
    assert result.accepted and result.evicted == 2  # the oldest HIGH, and the LOW refused
    assert (totals["accepted"], totals["dropped"], spool.live()) == (4, 2, 2)


# -- 18. looking at a file never harms it ------------------------------------------------


def _status(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "okta_risk_output", "status", "--spool", str(path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_status_on_a_missing_path_creates_nothing_and_fails(tmp_path: Path) -> None:
    done = _status(tmp_path / "typo.db")
    assert done.returncode == 6, done.stderr
    assert "no such file" in done.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("what", ["jsonl", "other-sqlite", "marked-other-app"])
def test_a_file_that_is_not_a_spool_is_refused_and_left_untouched(
    tmp_path: Path, what: str
) -> None:
    path = tmp_path / "spool.db"
    if what == "jsonl":
        path.write_text('{"kind": "invalid", "line": 3}\n' * 50)
    else:
        with sqlite3.connect(path) as db:
            if what == "marked-other-app":
                db.execute("PRAGMA application_id = 1234")
            db.execute("CREATE TABLE users (name TEXT)")
            db.execute("INSERT INTO users VALUES ('alice')")
    before = path.read_bytes()
    dead_letter = ["--dead-letter", str(tmp_path / "dl.jsonl")]
    for command in (["status"], ["enqueue", *dead_letter]):
        done = subprocess.run(
            [sys.executable, "-m", "okta_risk_output", *command, "--spool", str(path)],
            input=b"", capture_output=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 6, done.stderr
        assert b"left alone" in done.stderr
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if "damaged" in p.name) == []


def test_a_spool_of_a_newer_version_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    spool = Spool(str(path))
    spool.put(event("HIGH"), source="t", line=1, now=NOW)
    spool.close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (SCHEMA_VERSION + 1,))
    with pytest.raises(LocalWriteError, match="written by a newer okta-risk-output"):
        Spool(str(path))
    with pytest.raises(LocalWriteError, match="written by a newer okta-risk-output"):
        Spool(str(path), read_only=True)
    assert not [p for p in tmp_path.iterdir() if "damaged" in p.name]


def test_status_never_moves_a_damaged_spool_and_a_writer_moves_only_an_unused_one(
    tmp_path: Path,
) -> None:
    path = tmp_path / "spool.db"
    first = Spool(str(path))
    for n in range(200):
        first.put(event("HIGH", ip=f"2001:db8::{n + 1:x}"), source="t", line=n, now=NOW)
    first.close()
    path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])  # ours, damaged
    assert _status(path).returncode == 6
    assert not [p for p in tmp_path.iterdir() if "damaged" in p.name]
    user = Spool(str(tmp_path / "other.db"))  # an unrelated spool in use is no obstacle
    in_use = tmp_path / "spool.db.lock"
    holder = os.open(in_use, os.O_RDWR)
    import fcntl

    fcntl.flock(holder, fcntl.LOCK_SH)  # as another process with the spool open would
    with pytest.raises(LocalWriteError, match="another process has it open"):
        Spool(str(path))
    os.close(holder)
    moved = Spool(str(path))
    assert moved.moved_aside is not None and moved.live() == 0
    user.close()


def test_a_spool_from_before_the_mark_is_adopted(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    spool = Spool(str(path))
    spool.put(event("HIGH"), source="t", line=1, now=NOW)
    spool.close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA application_id = 0")  # as the first versions made them
    assert Spool(str(path), read_only=True).live() == 1
    again = Spool(str(path))
    assert again.live() == 1
    again.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
