"""Metrics: values read live from the shipper's sources, the textfile, the endpoint, and
the whole set after a scripted run against the emulator."""

from __future__ import annotations

import io
import os
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from okta_risk_output.delivery.ratelimit import read_budget
from okta_risk_output.observe.counters import Counters
from okta_risk_output.observe.prometheus import PrometheusMetrics, TextfileWriter
from okta_risk_output.okta.auth import SswsAuth
from okta_risk_output.okta.client import OktaClient
from okta_risk_output.okta.secret import Secret
from okta_risk_output.shipper import Shipper, Source
from tests.support import TOKEN, FakeClock, emulator, make_settings


def status(**overrides: Any) -> dict[str, Any]:
    report: dict[str, Any] = {
        "spool": "/tmp/spool.db",
        "signals": 7,
        "bytes_of_signals": 900,
        "file_bytes": 40960,
        "by_risk_level": {"HIGH": 1, "MEDIUM": 2, "LOW": 4},
        "in_flight": 3,
        "waiting_retry": 2,
        "oldest_age_seconds": 12.5,
        "last_error": None,
        "damaged_spools_moved_aside": 0,
        "totals": {
            "accepted": 20,
            "delivered": 10,
            "dead_lettered": 1,
            "expired": 1,
            "dropped": 0,
            "coalesced": 1,
        },
        "schema_version": 1,
    }
    report.update(overrides)
    return report


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, by name and labels; parsing it proves it is valid."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float:
    return found[(name, tuple(sorted(labels.items())))]


def fake_telemetry(**kwargs: Any) -> tuple[PrometheusMetrics, Counters]:
    counters = Counters()
    counters.add(lines=10, blank=1, invalid=2, spooled=6, refused=1, delivered=5, evicted=1)
    counters.add(requests=4, retries=2, throttled=1, rejected=1, gave_up=1, expired=1)
    counters.skip("private")
    telemetry = PrometheusMetrics(
        counters_snapshot=counters.snapshot, spool_status=lambda: status(), **kwargs
    )
    return telemetry, counters


def test_counters_of_every_state_come_from_the_live_sources() -> None:
    telemetry, counters = fake_telemetry(
        budget=lambda: {"limit": 600, "remaining": 542, "reset_in": 31.0}
    )
    found = samples(telemetry.exposition().decode())
    p = "okta_risk_output_"
    assert value(found, p + "lines_read_total") == 11
    for outcome, expected in {
        "blank": 1,
        "invalid": 2,
        "skipped": 1,
        "spooled": 6,
        "refused": 1,
    }.items():
        assert value(found, p + "lines_total", outcome=outcome) == expected
    # The per-process conservation law holds in the metrics as in the summary.
    outcomes = sum(v for (n, _), v in found.items() if n == p + "lines_total")
    assert outcomes == value(found, p + "lines_read_total")
    for outcome, expected in {
        "delivered": 5,
        "rejected_by_okta": 1,
        "gave_up": 1,
        "expired": 1,
        "dropped": 1,
        "coalesced": 0,
    }.items():
        assert value(found, p + "signals_total", outcome=outcome) == expected
    assert value(found, p + "retries_total") == 2
    assert value(found, p + "throttled_total") == 1
    for state, expected in status()["totals"].items():
        assert value(found, p + "spool_signals_total", state=state) == expected
    assert value(found, p + "spool_waiting_signals", risk_level="LOW") == 4
    assert value(found, p + "spool_in_flight_signals") == 3
    assert value(found, p + "spool_retry_waiting_signals") == 2
    assert value(found, p + "spool_bytes") == 900
    assert value(found, p + "spool_file_bytes") == 40960
    assert value(found, p + "spool_oldest_signal_age_seconds") == 12.5
    assert value(found, p + "rate_limit_limit") == 600
    assert value(found, p + "rate_limit_remaining") == 542
    assert value(found, p + "rate_limit_reset_seconds") == 31.0
    # Read at collection time, not copied at construction.
    counters.add(lines=1, spooled=1)
    again = samples(telemetry.exposition().decode())
    assert value(again, p + "lines_read_total") == 12


def test_no_budget_yet_means_no_budget_metrics_and_an_empty_spool_has_age_0() -> None:
    telemetry = PrometheusMetrics(
        counters_snapshot=Counters().snapshot,
        spool_status=lambda: status(oldest_age_seconds=None, signals=0),
    )
    found = samples(telemetry.exposition().decode())
    assert not [n for n, _ in found if n.startswith("okta_risk_output_rate_limit")]
    assert value(found, "okta_risk_output_spool_oldest_signal_age_seconds") == 0


def test_a_failing_source_costs_only_its_own_metrics() -> None:
    def closed() -> dict[str, Any]:
        raise RuntimeError("the spool is closed")

    telemetry = PrometheusMetrics(counters_snapshot=Counters().snapshot, spool_status=closed)
    found = samples(telemetry.exposition().decode())
    assert ("okta_risk_output_lines_read_total", ()) in found
    assert not [n for n, _ in found if n.startswith("okta_risk_output_spool")]


def test_requests_by_outcome_and_the_latency_histogram() -> None:
    telemetry, _ = fake_telemetry()
    telemetry.observe_request("delivered", 0.2)
    telemetry.observe_request("delivered", 3.0)
    telemetry.observe_request("retry", 0.04)
    found = samples(telemetry.exposition().decode())
    p = "okta_risk_output_"
    assert value(found, p + "requests_total", outcome="delivered") == 2
    assert value(found, p + "requests_total", outcome="retry") == 1
    assert value(found, p + "request_duration_seconds_count") == 3
    assert value(found, p + "request_duration_seconds_sum") == pytest.approx(3.24)
    assert value(found, p + "request_duration_seconds_bucket", le="0.05") == 1
    assert value(found, p + "request_duration_seconds_bucket", le="0.25") == 2
    assert value(found, p + "request_duration_seconds_bucket", le="+Inf") == 3


def test_the_registry_is_our_own() -> None:
    text = fake_telemetry()[0].exposition().decode()
    assert "python_gc" not in text and "process_cpu" not in text
    names = {f.name for f in text_string_to_metric_families(text)}
    assert all(n.startswith("okta_risk_output_") for n in names)


def test_write_textfile_replaces_the_file_atomically(tmp_path: Path) -> None:
    telemetry, counters = fake_telemetry()
    path = tmp_path / "okta_risk_output.prom"
    telemetry.write_textfile(str(path))
    first = path.read_text()
    inode = os.stat(path).st_ino
    counters.add(lines=5, blank=5)
    telemetry.write_textfile(str(path))
    # A new file renamed over the old one (a reader holding the old one sees it whole),
    # and no temporary file left behind.
    assert os.stat(path).st_ino != inode
    assert os.listdir(tmp_path) == [path.name]
    assert value(samples(first), "okta_risk_output_lines_read_total") == 11
    assert value(samples(path.read_text()), "okta_risk_output_lines_read_total") == 16


def test_textfile_writer_writes_at_the_interval_and_warns_once_on_failure(
    tmp_path: Path, clock: FakeClock
) -> None:
    from okta_risk_output.observe.logs import setup_logging

    logs = io.StringIO()
    setup_logging("INFO", logs)
    try:
        telemetry, _ = fake_telemetry()
        path = tmp_path / "m.prom"
        writer = TextfileWriter(telemetry, str(path), interval=15.0, monotonic=clock.monotonic)
        writer.tick()
        assert path.exists()
        path.unlink()
        clock.advance(14.0)
        writer.tick()
        assert not path.exists()
        clock.advance(1.0)
        writer.tick()
        assert path.exists()
        broken = TextfileWriter(
            telemetry, str(tmp_path / "missing" / "m.prom"), interval=1.0, monotonic=clock.monotonic
        )
        for _ in range(3):
            broken.tick()
            clock.advance(1.0)
        broken.close()
        assert logs.getvalue().count("WARN cannot write the metrics file") == 1
    finally:
        setup_logging()


def test_serve_on_loopback_and_stop() -> None:
    telemetry, _ = fake_telemetry()
    server = telemetry.serve("127.0.0.1", 0)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=5) as got:
            text = got.read().decode()
        assert value(samples(text), "okta_risk_output_lines_read_total") == 11
    finally:
        server.close()
    assert not server.thread.is_alive()


class TimedClient(OktaClient):
    """What the wiring does in delivery: time each POST, report its outcome and budget."""

    def __init__(self, url: str, clock: FakeClock) -> None:
        super().__init__(url, SswsAuth(Secret(TOKEN)))
        self.clock = clock
        self.telemetry: PrometheusMetrics | None = None
        self.budget: dict[str, float] | None = None

    def post(self, events: list[dict[str, Any]]) -> requests.Response:
        started = time.monotonic()
        response = super().post(events)
        assert self.telemetry is not None
        outcome = "delivered" if response.ok else "retry"
        self.telemetry.observe_request(outcome, time.monotonic() - started)
        budget = read_budget(response, self.clock.time())
        if budget is not None:
            self.budget = {
                "limit": budget.limit,
                "remaining": budget.remaining,
                "reset_in": budget.reset_in,
            }
        return response


def test_metrics_after_a_scripted_run(tmp_path: Path, clock: FakeClock) -> None:
    """503, 429, then 202 from the emulator: every count in the metrics matches the
    run's own counters and the spool's totals."""
    lines = (
        b"".join(b'{"ip": "203.0.113.%d", "riskLevel": "HIGH"}\n' % n for n in range(1, 6))
        + b'\n{"ip": "10.0.0.1", "riskLevel": "LOW"}\nnot json\n'
    )
    with emulator(script=(503, 429)) as emu:
        client = TimedClient(emu.url, clock)
        settings = make_settings(tmp_path, emu.url, rate_limit="100000/s")
        shipper = Shipper(settings, clock=clock, client=client)
        telemetry = PrometheusMetrics(
            counters_snapshot=shipper.counters.snapshot,
            spool_status=lambda: shipper.spool.status(clock.time()),
            budget=lambda: client.budget,
        )
        client.telemetry = telemetry
        try:
            shipper.run([Source("<stdin>", io.BytesIO(lines))])
            path = tmp_path / "okta_risk_output.prom"
            telemetry.write_textfile(str(path))
        finally:
            shipper.close()
    found = samples(path.read_text())
    p = "okta_risk_output_"
    counts = shipper.counters.snapshot()
    assert value(found, p + "lines_read_total") == counts["lines"] == 8
    assert value(found, p + "lines_total", outcome="spooled") == 5
    assert value(found, p + "lines_total", outcome="skipped") == 1
    assert value(found, p + "lines_total", outcome="invalid") == 1
    assert value(found, p + "lines_total", outcome="blank") == 1
    assert value(found, p + "signals_total", outcome="delivered") == 5
    assert value(found, p + "retries_total") == 2
    assert value(found, p + "throttled_total") == 1
    assert value(found, p + "requests_total", outcome="retry") == 2
    assert value(found, p + "requests_total", outcome="delivered") == 1
    assert value(found, p + "request_duration_seconds_count") == counts["requests"] == 3
    assert value(found, p + "spool_signals_total", state="accepted") == 5
    assert value(found, p + "spool_signals_total", state="delivered") == 5
    assert value(found, p + "spool_waiting_signals", risk_level="HIGH") == 0
    assert value(found, p + "rate_limit_limit") > 0
