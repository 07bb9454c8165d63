"""A /metrics scrape costs no spool status call of its own: the spool's figures are sampled
at most every METRICS_SPOOL_EVERY seconds, and the scrapes between get the last sample."""

from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from okta_risk_output.observe.counters import Counters
from okta_risk_output.observe.observers import METRICS_SPOOL_EVERY, Sources, start_observers
from tests.support import FakeClock


class CountedStatus:
    """A spool status that counts how often it is asked, and says how many waiting."""

    def __init__(self) -> None:
        self.calls = 0
        self.signals = 2

    def __call__(self) -> dict[str, Any]:
        self.calls += 1
        return {
            "signals": self.signals,
            "bytes_of_signals": 100,
            "file_bytes": 4096,
            "by_risk_level": {"HIGH": self.signals, "MEDIUM": 0, "LOW": 0},
            "in_flight": 0,
            "waiting_retry": 0,
            "oldest_age_seconds": 1.0,
            "totals": {"accepted": self.signals},
        }


def waiting_high(text: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "okta_risk_output_spool_waiting_signals" and (
                sample.labels.get("risk_level") == "HIGH"
            ):
                return sample.value
    raise AssertionError("no spool_waiting_signals{risk_level=HIGH}")


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        return str(answer.read().decode())


def test_scrapes_within_the_interval_cost_one_status_call_and_a_later_one_another() -> None:
    clock = FakeClock()
    status = CountedStatus()
    sources = Sources(counters_snapshot=Counters().snapshot, spool_status=status)
    observers = start_observers(sources, clock=clock, metrics_port=0)
    try:
        assert observers.server is not None
        port = observers.server.port
        assert waiting_high(scrape(port)) == 2
        status.signals = 7
        clock.advance(METRICS_SPOOL_EVERY - 0.5)
        assert waiting_high(scrape(port)) == 2  # the last sample, not a new status call
        assert status.calls == 1
        clock.advance(0.5)
        assert waiting_high(scrape(port)) == 7
        assert status.calls == 2
    finally:
        observers.close()


def test_the_last_metrics_file_of_a_run_has_the_spool_figures_exact(tmp_path: Path) -> None:
    clock = FakeClock()
    status = CountedStatus()
    path = tmp_path / "m.prom"
    sources = Sources(counters_snapshot=Counters().snapshot, spool_status=status)
    observers = start_observers(sources, clock=clock, metrics_file=str(path))
    assert waiting_high(path.read_text()) == 2
    status.signals = 0
    clock.advance(1.0)  # within the interval: only the close asks again
    observers.close()
    assert waiting_high(path.read_text()) == 0
    assert status.calls == 2
