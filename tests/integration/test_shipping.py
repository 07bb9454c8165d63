"""The plugin end to end, in-process, against the emulator over real loopback HTTP.

Waits that matter (429 Reset, backoff) run on a fake clock and are asserted exactly; the
tests that check pacing against the emulator's own windows use the real clock.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import re
import threading
from pathlib import Path
from typing import Any

import pytest
import requests

from okta_risk_output.clock import SystemClock
from okta_risk_output.errors import ExitStatus
from okta_risk_output.okta.auth import SswsAuth
from okta_risk_output.okta.client import OktaClient
from okta_risk_output.okta.secret import Secret
from okta_risk_output.shipper import Shipper, Source
from okta_risk_output.spool.sqlite import Spool
from okta_risk_output.units import parse_rate
from tests.support import TOKEN, FakeClock, emulator, make_settings, wait_until

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_logs"
POISON = "198.51.100.66"


def signal_lines(count: int, *, poison_at: int | None = None) -> bytes:
    lines = []
    for n in range(count):
        ip = POISON if n == poison_at else f"203.0.113.{n % 250 + 1}"
        lines.append(json.dumps({"ip": ip, "riskLevel": "HIGH", "message": f"signal {n}"}))
    return ("\n".join(lines) + "\n").encode()


class RecordingClient(OktaClient):
    """The real client, noting the (fake) time of each POST."""

    def __init__(self, url: str, clock: FakeClock) -> None:
        super().__init__(url, SswsAuth(Secret(TOKEN)))
        self.clock = clock
        self.sent_at: list[float] = []

    def post(self, events: list[dict[str, Any]], **kwargs: Any) -> requests.Response:
        self.sent_at.append(self.clock.monotonic())
        return super().post(events, **kwargs)


def ship(
    tmp_path: Path,
    url: str,
    data: bytes | list[Path],
    *,
    clock: Any = None,
    mode: str = "run",
    client: OktaClient | None = None,
    **options: Any,
) -> tuple[ExitStatus, Shipper]:
    """Run the shipper in-process on a spool in tmp_path; checks the conservation laws."""
    options.setdefault("rate_limit", "100000/s")
    settings = make_settings(tmp_path, url, **options)
    shipper = Shipper(settings, clock=clock or SystemClock(), client=client)
    if isinstance(data, bytes):
        sources = [Source("<stdin>", io.BytesIO(data))]
    else:
        sources = [Source(str(p), p.open("rb")) for p in data]
    try:
        status = shipper.drain() if mode == "drain" else shipper.run(sources)
        assert shipper.counters.balance(), shipper.counters.snapshot()
        assert_conserved(shipper.spool)
    finally:
        shipper.close()
    return status, shipper


def assert_conserved(spool: Spool) -> None:
    totals = spool.totals()
    assert totals["accepted"] == (
        totals["delivered"]
        + totals["dead_lettered"]
        + totals["expired"]
        + totals["dropped"]
        + totals["coalesced"]
        + spool.live()
    ), totals


def dead_letters(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "dead.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_happy_path_delivers_every_sample_in_full_batches(
    tmp_path: Path, logs: io.StringIO
) -> None:
    files = [SAMPLES / "signals.jsonl", SAMPLES / "risk_events.jsonl"]
    with emulator() as emu:
        status, shipper = ship(tmp_path, emu.url, files)
        stats = emu.state.stats()
        received = emu.state.requests()
    assert status is ExitStatus.OK
    counts = shipper.counters.snapshot()
    # 300 signals and 20 RiskEvents of 128 subjects: 428 signals. Some samples carry an
    # expiresAt of 2026-11-27 (expired unsent once it has passed); repeated IPs coalesce.
    assert counts["delivered"] + counts["expired"] + counts["coalesced"] == 428
    assert counts["coalesced"] > 0
    assert stats["subjects"] == counts["delivered"] and stats["throttled"] == 0
    assert all(len(r["events"]) <= 20 for r in received)
    assert all(len(e["subjects"]) <= 50 for r in received for e in r["events"])
    assert dead_letters(tmp_path) == []
    # Normalised on the way: every timestamp is UTC with milliseconds.
    stamps = [e["timestamp"] for r in received for e in r["events"] if "timestamp" in e]
    assert stamps and all(s.endswith("Z") and len(s) == 24 for s in stamps)


def test_broken_lines_are_dead_lettered_with_every_reason_and_never_block(tmp_path: Path) -> None:
    with emulator() as emu:
        status, shipper = ship(tmp_path, emu.url, [SAMPLES / "broken.jsonl"])
        delivered = [
            s["ip"] for r in emu.state.requests() for e in r["events"] for s in e["subjects"]
        ]
    assert status is ExitStatus.OK
    counts = shipper.counters.snapshot()
    # Accepted: the BOM line, the CRLF line, and two messages sanitised (lines 21 and 22).
    lines = (counts["lines"], counts["blank"], counts["spooled"], counts["invalid"])
    assert lines == (29, 5, 4, 20)
    # Lines 21 and 22 name the same address: the second is coalesced into the first.
    assert {"198.51.100.7", "203.0.113.9"} <= set(delivered) and len(delivered) == 3
    assert counts["coalesced"] == 1
    entries = {e["line"]: e for e in dead_letters(tmp_path)}
    assert len(entries) == 20 and not {21, 22} & set(entries)
    for entry in entries.values():
        assert entry["source"].endswith("broken.jsonl")
        assert entry["errors"] and all({"path", "message"} == set(e) for e in entry["errors"])
        assert "original" in entry
    assert entries[11]["kind"] == "too_long"
    assert entries[11]["original_truncated"] is True
    assert len(entries[11]["original"]) == 4096
    assert entries[11]["original_bytes"] == 1_100_089
    assert entries[12]["kind"] == "not_utf8" and "\\xe9" in entries[12]["original"]
    assert entries[15]["errors"][0]["path"] == "$.ip"


def test_429_waits_until_reset_by_the_servers_date(tmp_path: Path) -> None:
    frozen = 1_800_000_000.0
    clock = FakeClock()
    with emulator(clock=lambda: frozen, window_seconds=10.0, script=(429,)) as emu:
        client = RecordingClient(emu.url, clock)
        status, shipper = ship(tmp_path, emu.url, signal_lines(5), clock=clock, client=client)
        assert emu.state.stats()["subjects"] == 5
    assert status is ExitStatus.OK
    # Reset is the window's end, 10 s after the server's Date; +1 s as Okta's SDKs do.
    first, second = client.sent_at
    assert 11.0 <= second - first <= 11.25
    counts = shipper.counters.snapshot()
    assert (counts["throttled"], counts["retries"], counts["requests"]) == (1, 1, 2)


def test_503_twice_then_success_backs_off_within_the_policy(tmp_path: Path) -> None:
    clock = FakeClock()
    with emulator(script=(503, 503)) as emu:
        client = RecordingClient(emu.url, clock)
        status, shipper = ship(tmp_path, emu.url, signal_lines(3), clock=clock, client=client)
        assert emu.state.stats()["subjects"] == 3
    assert status is ExitStatus.OK
    counts = shipper.counters.snapshot()
    assert (counts["retries"], counts["requests"], counts["delivered"]) == (2, 3, 3)
    # Full jitter under ceilings of 1 s, then 2 s (plus at most one nap of the loop).
    gaps = [b - a for a, b in itertools.pairwise(client.sent_at)]
    assert gaps[0] <= 1.25 and gaps[1] <= 2.25


def test_network_errors_are_retried_until_given_up(tmp_path: Path) -> None:
    clock = FakeClock()
    with emulator() as emu:
        url = emu.url
    # Nothing listens on that port any more: connection refused, retried until given up.
    status, shipper = ship(tmp_path, url, signal_lines(2), clock=clock, max_retry_age="30s")
    assert status is ExitStatus.OK
    counts = shipper.counters.snapshot()
    assert counts["retries"] >= 2 and counts["gave_up"] == 2
    entries = dead_letters(tmp_path)
    assert {e["kind"] for e in entries} == {"gave_up"}
    assert "gave up after retrying for at least 30s" in entries[0]["errors"][0]["message"]
    assert "refused the connection" in entries[0]["errors"][0]["message"]


def test_one_poison_event_among_twenty_is_isolated_by_bisection(tmp_path: Path) -> None:
    with emulator(reject_ips=frozenset({POISON})) as emu:
        status, shipper = ship(tmp_path, emu.url, signal_lines(20, poison_at=13))
        received = [s for r in emu.state.requests() for e in r["events"] for s in e["subjects"]]
    assert status is ExitStatus.OK
    assert len(received) == 19
    assert POISON not in json.dumps(received)
    (entry,) = dead_letters(tmp_path)
    assert entry["kind"] == "rejected_by_okta" and entry["line"] == 14
    assert POISON in entry["errors"][0]["message"]
    assert entry["event"]["subjects"][0]["ip"] == POISON
    counts = shipper.counters.snapshot()
    assert (counts["delivered"], counts["rejected"]) == (19, 1)
    # 20 -> 10+10 -> 5+5 -> 2+3 -> 1+2 -> 1+1: one request per level below the first split.
    assert counts["requests"] <= 1 + 2 * 5


@pytest.mark.parametrize(
    ("config", "expected", "hint"),
    [
        ({"api_token": "another-token"}, ExitStatus.AUTH_FAILED, "OKTA_API_TOKEN"),
        ({"script": (403,)}, ExitStatus.PERMISSION_DENIED, "okta.riskEvents.manage"),
        ({"endpoint_off": True}, ExitStatus.ENDPOINT_MISSING, "deprecated"),
    ],
)
def test_401_403_404_pause_delivery_keep_the_spool_and_resume_once_fixed(
    tmp_path: Path, logs: io.StringIO, config: dict[str, Any], expected: ExitStatus, hint: str
) -> None:
    with emulator(**config) as emu:
        status, shipper = ship(tmp_path, emu.url, signal_lines(45))
        assert emu.state.stats()["subjects"] == 0
    assert status is expected
    counts = shipper.counters.snapshot()
    assert counts["delivered"] == 0 and counts["requests"] == 1 and counts["spooled"] == 45
    assert dead_letters(tmp_path) == []
    text = logs.getvalue()
    assert "ERROR delivery stopped: HTTP" in text and hint in text
    assert re.search(r"\d+ signals stay in the spool", text)
    # The credential appears nowhere: not in the logs.
    assert TOKEN not in text
    # Fixed (a healthy org): a drain on the same spool delivers everything.
    with emulator() as healthy:
        status, shipper = ship(tmp_path, healthy.url, b"", mode="drain")
        assert healthy.state.stats()["subjects"] == 45
    assert status is ExitStatus.OK and shipper.counters.snapshot()["delivered"] == 45


def test_the_rate_is_never_exceeded_over_several_windows(tmp_path: Path) -> None:
    rate = parse_rate("5/s")
    with emulator(rate=rate) as emu:
        status, _ = ship(
            tmp_path,
            emu.url,
            signal_lines(17),
            rate_limit="5/s",
            max_events_per_request="1",
            max_subjects_per_event="1",
        )
        stats = emu.state.stats()
    assert status is ExitStatus.OK
    assert stats["accepted"] == 17
    assert stats["throttled"] == 0
    assert len(stats["windows"]) >= 3
    assert all(w["requests"] <= 5 for w in stats["windows"])


def test_a_partial_batch_goes_out_after_linger_while_input_stays_open(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    with emulator() as emu, os.fdopen(read_end, "rb") as reader:
        settings = make_settings(tmp_path, emu.url, linger="0.1s", rate_limit="1000/s")
        shipper = Shipper(settings, clock=SystemClock())
        result: list[ExitStatus] = []
        worker = threading.Thread(
            target=lambda: result.append(shipper.run([Source("pipe", reader)]))
        )
        worker.start()
        with os.fdopen(write_end, "wb") as writer:
            writer.write(signal_lines(1))
            writer.flush()
            wait_until(
                lambda: emu.state.stats()["subjects"] == 1,
                10,
                "the lone event to be sent while the input stays open",
            )
        worker.join(10)
        shipper.close()
    assert result == [ExitStatus.OK]


def test_shutdown_leaves_what_is_undelivered_in_the_spool(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    stop = threading.Event()
    with emulator(fail_rate=1.0) as emu, os.fdopen(read_end, "rb") as reader:
        settings = make_settings(tmp_path, emu.url, linger="0s")
        shipper = Shipper(settings, clock=SystemClock(), stop=stop)
        result: list[ExitStatus] = []
        worker = threading.Thread(
            target=lambda: result.append(shipper.run([Source("pipe", reader)]))
        )
        worker.start()
        with os.fdopen(write_end, "wb") as writer:
            writer.write(signal_lines(3))
            writer.flush()
            wait_until(lambda: emu.state.stats()["requests"] >= 1, 10, "a request")
            stop.set()
            worker.join(10)
    assert result == [ExitStatus.OK]
    counts = shipper.counters.snapshot()
    assert counts["delivered"] == 0 and counts["spooled"] == 3
    assert shipper.spool.live() == 3
    assert_conserved(shipper.spool)
    assert dead_letters(tmp_path) == []
    shipper.close()


def test_events_retried_too_long_are_given_up(tmp_path: Path) -> None:
    clock = FakeClock()
    with emulator(fail_rate=1.0) as emu:
        status, shipper = ship(
            tmp_path, emu.url, signal_lines(40), clock=clock, max_retry_age="10s", max_backoff="4s"
        )
        requests_seen = emu.state.stats()["requests"]
    assert status is ExitStatus.OK
    counts = shipper.counters.snapshot()
    assert (counts["delivered"], counts["gave_up"], counts["requests"]) == (0, 40, requests_seen)
    entries = dead_letters(tmp_path)
    assert len(entries) == 40
    assert all("gave up after retrying for" in e["errors"][0]["message"] for e in entries)


def test_eof_timeout_leaves_the_rest_spooled_and_exits_ok(
    tmp_path: Path, logs: io.StringIO
) -> None:
    clock = FakeClock()
    with emulator(fail_rate=1.0) as emu:
        started = clock.monotonic()
        status, shipper = ship(tmp_path, emu.url, signal_lines(7), clock=clock, eof_timeout="20s")
    assert status is ExitStatus.OK
    # When input ended is known only to the shipper; it cannot be before the start.
    assert clock.monotonic() - started >= 20.0
    assert shipper.counters.snapshot()["spooled"] == 7
    assert "7 events remain in" in logs.getvalue() and "okta-risk-output drain" in logs.getvalue()


def test_expired_events_are_never_sent_and_are_counted(tmp_path: Path) -> None:
    expired = json.dumps(
        {"ip": "192.0.2.3", "riskLevel": "HIGH", "expiresAt": "2020-01-01T00:00:00Z"}
    ).encode()
    with emulator() as emu:
        status, shipper = ship(tmp_path, emu.url, expired + b"\n" + signal_lines(2))
        sent = emu.state.stats()["subjects"]
    assert status is ExitStatus.OK and sent == 2
    assert shipper.counters.snapshot()["expired"] == 1


def test_enqueue_then_drain(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, "http://127.0.0.1:9", rate_limit="100000/s")
    spooler = Shipper(settings, clock=SystemClock())
    assert spooler.enqueue([Source("<stdin>", io.BytesIO(signal_lines(30)))]) is ExitStatus.OK
    assert spooler.spool.live() == 30
    spooler.close()
    with emulator() as emu:
        status, shipper = ship(tmp_path, emu.url, b"", mode="drain")
        assert emu.state.stats()["subjects"] == 30
    assert status is ExitStatus.OK and shipper.counters.snapshot()["delivered"] == 30


def test_an_outage_for_the_whole_input_loses_nothing_across_restarts(tmp_path: Path) -> None:
    clock = FakeClock()
    lines = signal_lines(60)
    # 1. Nothing listens: connection refused for the whole input; stop after 30 s.
    with emulator() as gone:
        url = gone.url
    status, first = ship(tmp_path, url, lines, clock=clock, eof_timeout="30s", max_backoff="1s")
    assert status is ExitStatus.OK and first.counters.snapshot()["spooled"] == 60
    # 2. Restarted against an org answering 503: still nothing lost, nothing dead-lettered.
    with emulator(fail_rate=1.0) as failing:
        status, second = ship(
            tmp_path, failing.url, b"", clock=clock, eof_timeout="30s", max_backoff="1s"
        )
        assert failing.state.stats()["requests"] > 0
    assert status is ExitStatus.OK and second.counters.snapshot()["delivered"] == 0
    # 3. Healed: a restart delivers all of it.
    with emulator() as healed:
        status, _ = ship(tmp_path, healed.url, b"", clock=clock, mode="drain")
        messages = sorted(
            s["message"]
            for r in healed.state.requests()
            for e in r["events"]
            for s in e["subjects"]
        )
    assert status is ExitStatus.OK
    assert messages == sorted(f"signal {n}" for n in range(60))
    assert dead_letters(tmp_path) == []


@pytest.mark.parametrize("policy", ["reject-new", "drop-lowest-risk"])
def test_a_full_spool_follows_its_overflow_policy_and_counts_it(
    tmp_path: Path, logs: io.StringIO, policy: str
) -> None:
    settings = make_settings(tmp_path, "http://127.0.0.1:9", spool_max_events="10", overflow=policy)
    spooler = Shipper(settings, clock=SystemClock())
    mixed = b"".join(
        json.dumps({"ip": f"203.0.113.{n + 1}", "riskLevel": level}).encode() + b"\n"
        for n, level in enumerate(["LOW"] * 8 + ["HIGH"] * 6)
    )
    spooler.enqueue([Source("<stdin>", io.BytesIO(mixed))])
    counts = spooler.counters.snapshot()
    assert spooler.counters.balance()
    assert_conserved(spooler.spool)
    report = spooler.spool.status(0)
    spooler.close()
    if policy == "reject-new":
        assert (counts["spooled"], counts["refused"], counts["evicted"]) == (10, 4, 0)
        assert report["by_risk_level"] == {"HIGH": 2, "MEDIUM": 0, "LOW": 8}
    else:
        assert (counts["spooled"], counts["refused"], counts["evicted"]) == (14, 0, 4)
        assert report["by_risk_level"] == {"HIGH": 6, "MEDIUM": 0, "LOW": 4}
        assert report["totals"]["dropped"] == 4
    assert "spool full" in logs.getvalue()


def test_the_block_policy_holds_intake_until_delivery_makes_room(
    tmp_path: Path, clock: FakeClock, logs: io.StringIO
) -> None:
    # Intake polls for room every 0.5 s: on the fake clock, so no poll waits for real.
    with emulator() as emu:
        status, shipper = ship(
            tmp_path,
            emu.url,
            signal_lines(60),
            clock=clock,
            spool_max_events="5",
            overflow="block",
            max_events_per_request="5",
            linger="0s",
        )
        assert emu.state.stats()["subjects"] == 60
    counts = shipper.counters.snapshot()
    assert status is ExitStatus.OK
    assert (counts["spooled"], counts["refused"], counts["evicted"]) == (60, 0, 0)
    assert "intake waits for delivery to make room (block policy)" in logs.getvalue()


def test_lines_that_broke_json_or_the_dead_letter_file_cost_only_themselves(
    tmp_path: Path,
) -> None:
    huge_int = b'{"ip":"203.0.113.9","riskLevel":"HIGH","x":' + b"1" * 5000 + b"}\n"
    surrogate_key = b'{"ip":"203.0.113.8","riskLevel":"HIGH","\\ud800":1}\n'
    with emulator() as emu:
        status, shipper = ship(tmp_path, emu.url, signal_lines(1) + huge_int + surrogate_key)
        assert emu.state.stats()["subjects"] == 1
    assert status is ExitStatus.OK
    counts = shipper.counters.snapshot()
    assert (counts["lines"], counts["spooled"], counts["invalid"]) == (3, 1, 2)
    kinds = [e["kind"] for e in dead_letters(tmp_path)]
    assert kinds == ["not_json", "invalid"]
