"""The program as a process, killed and signalled, with the emulator as the oracle.

Every input line carries a sequence number. A line counts as accepted once its spool
transaction committed; the spool's `accepted` total is written in that same transaction
and intake commits lines in file order, so after a kill the accepted lines of a round are
exactly the first `accepted` lines of its slice. Each of those must reach the emulator at
least once, whatever moment the process died at; duplicates are counted, not forbidden.

The moments are chosen by what the test has seen, not by the wall clock (which, on a
loaded machine, could come before the program had even started): each kill comes after
the round's first accepted line and a random number of its requests, while most of its
slice is still to be sent.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from okta_risk_output.emulator import Emulator
from tests.support import TOKEN, accepted_total, emulator, wait_until

ROUNDS = 10
SLICE = 300
SMALL_REQUESTS = ["--max-events-per-request", "2", "--max-subjects-per-event", "5"]
"""10 signals a request: a slice takes 30 requests (of 10 ms each, the emulator's latency)."""
KILL_WITHIN = 25
"""A round is killed after at most this many of its requests: before its slice is all sent."""


def seq_line(n: int) -> str:
    # One address per number, so that no two numbers coalesce into one signal.
    return json.dumps({"ip": f"2001:db8::{n:x}", "riskLevel": "MEDIUM", "message": f"seq {n}"})


def start(
    tmp_path: Path, url: str, command: str, *args: str, stdin: Any = subprocess.DEVNULL
) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OKTA_")}
    env.update({"OKTA_ORG_URL": url, "OKTA_API_TOKEN": TOKEN})
    files = ["--spool", str(tmp_path / "spool.db"), "--dead-letter", str(tmp_path / "dl.jsonl")]
    pace = [] if command == "enqueue" else ["--rate-limit", "2000/s"]
    return subprocess.Popen(
        [sys.executable, "-m", "okta_risk_output", command, *args, *files, *pace],
        env=env,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def live_signals(spool: Path) -> int:
    """Signals accepted and not yet settled (sent or not, their 202 not recorded)."""
    with sqlite3.connect(spool, timeout=30) as db:
        return int(db.execute("SELECT count(*) FROM signals").fetchone()[0])


def kill_point(
    process: subprocess.Popen[bytes], emu: Emulator, spool: Path, accepted: int, requests: int
) -> Callable[[], bool]:
    """More than `accepted` lines in the spool, and `requests` requests seen by the emulator,
    while the process still runs."""

    def reached() -> bool:
        if process.poll() is not None:
            _, stderr = process.communicate()
            raise AssertionError(f"the run ended before its kill: {stderr.decode()}")
        return accepted_total(spool) > accepted and emu.state.stats()["requests"] >= requests

    return reached


def delivered_seqs(emu: Emulator) -> Counter[int]:
    return Counter(
        int(s["message"].split()[1])
        for r in emu.state.requests()
        for e in r["events"]
        for s in e["subjects"]
    )


@pytest.mark.emulator(latency=0.01)
def test_kill_9_at_random_moments_loses_nothing_accepted(tmp_path: Path, emu: Emulator) -> None:
    rng = random.Random(20261127)
    spool = tmp_path / "spool.db"
    must_arrive: set[int] = set()
    outstanding: list[int] = []
    before = 0
    for round_no in range(ROUNDS):
        slice_file = tmp_path / f"slice{round_no}.jsonl"
        first = round_no * SLICE
        slice_file.write_text("".join(seq_line(n) + "\n" for n in range(first, first + SLICE)))
        # The kill's moment is the test input: after the k-th request of this round.
        sent = emu.state.stats()["requests"] + rng.randrange(KILL_WITHIN)
        process = start(
            tmp_path, emu.url, "run", "--linger", "0.01s", *SMALL_REQUESTS, str(slice_file)
        )
        try:
            wait_until(kill_point(process, emu, spool, before, sent), 60, f"round {round_no}")
        finally:
            process.kill()
            process.wait(30)
        after = accepted_total(spool)
        outstanding.append(live_signals(spool))
        must_arrive.update(range(first, first + (after - before)))
        before = after
    # Restart on the same spool, with no new input: everything accepted gets delivered.
    final = start(tmp_path, emu.url, "drain")
    _, stderr = final.communicate(timeout=120)
    assert final.returncode == 0, stderr.decode()
    arrived = delivered_seqs(emu)
    assert must_arrive, "no round accepted anything: the kills came too early to test much"
    assert any(outstanding), "every kill came after all was delivered: nothing was at stake"
    missing = must_arrive - set(arrived)
    assert not missing, f"{len(missing)} accepted events never arrived, e.g. {sorted(missing)[:5]}"
    duplicates = sum(count - 1 for count in arrived.values() if count > 1)
    print(f"{len(must_arrive)} accepted over {ROUNDS} kills; {duplicates} duplicate deliveries")
    print(f"undelivered at each kill: {outstanding}")


def test_sigterm_with_a_stalled_org_exits_within_the_shutdown_timeout(tmp_path: Path) -> None:
    with emulator(latency=30.0) as stalled:
        process = start(
            tmp_path,
            stalled.url,
            "run",
            "--linger",
            "0s",
            "--shutdown-timeout",
            "1s",
            stdin=subprocess.PIPE,
        )
        assert process.stdin is not None
        process.stdin.write(("\n".join(seq_line(n) for n in range(50)) + "\n").encode())
        process.stdin.flush()
        wait_until(lambda: stalled.state.stats()["requests"] > 0, 30, "a request in flight")
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
        took = time.monotonic() - signalled
    assert process.returncode == 0, stderr.decode()
    assert took <= 1.0 + 1.0, f"took {took:.1f}s"
    text = stderr.decode()
    assert "abandoned" in text and "summary" in text
    with sqlite3.connect(tmp_path / "spool.db") as db:
        totals = dict(db.execute("SELECT name, value FROM totals").fetchall())
        (live,) = db.execute("SELECT count(*) FROM signals").fetchone()
    # Reading stopped at the signal; what was accepted is all still spooled, since the
    # request in flight never got its answer.
    assert live == totals["accepted"] > 0 and totals["delivered"] == 0


def test_a_second_signal_exits_at_once(tmp_path: Path) -> None:
    with emulator(latency=30.0) as stalled:
        process = start(
            tmp_path,
            stalled.url,
            "run",
            "--linger",
            "0s",
            "--shutdown-timeout",
            "60s",
            stdin=subprocess.PIPE,
        )
        assert process.stdin is not None
        process.stdin.write((seq_line(1) + "\n").encode())
        process.stdin.flush()
        wait_until(lambda: stalled.state.stats()["requests"] > 0, 30, "a request in flight")
        process.send_signal(signal.SIGTERM)
        assert process.stderr is not None
        seen = []
        for raw in process.stderr:  # the second signal only once the first was handled
            seen.append(raw)
            if b"received SIGTERM" in raw:
                break
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=10)
    assert process.returncode == 128 + signal.SIGTERM
    assert b"second SIGTERM: exiting now" in b"".join(seen) + rest
    with sqlite3.connect(tmp_path / "spool.db") as db:
        assert db.execute("PRAGMA quick_check").fetchone()[0] == "ok"


def test_two_drain_processes_on_one_spool_deliver_each_event_once(tmp_path: Path) -> None:
    lines = "".join(seq_line(n) + "\n" for n in range(400)).encode()
    queued = start(tmp_path, "http://127.0.0.1:9", "enqueue", stdin=subprocess.PIPE)
    _, stderr = queued.communicate(lines, timeout=60)
    assert queued.returncode == 0, stderr.decode()
    with emulator(latency=0.005) as emu:
        drains = [
            start(
                tmp_path,
                emu.url,
                "drain",
                "--max-events-per-request",
                "5",
                "--max-subjects-per-event",
                "1",
            )
            for _ in range(2)
        ]
        outputs = [d.communicate(timeout=120)[1].decode() for d in drains]
        arrived = delivered_seqs(emu)
    assert all(d.returncode == 0 for d in drains), outputs
    assert sorted(arrived) == list(range(400))
    assert set(arrived.values()) == {1}  # nothing crashed, so nothing twice
    shares = [int(text.split(" delivered=")[1].split()[0]) for text in outputs]
    assert sum(shares) == 400 and all(share > 0 for share in shares), shares
