"""Starting and stopping what watches a run: the metrics file and port, the progress line,
the live terminal line, and the one close() at the end."""

from __future__ import annotations

import io
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from okta_risk_output.errors import ConfigError
from okta_risk_output.observe.counters import Counters
from okta_risk_output.observe.logs import log, setup_logging
from okta_risk_output.observe.observers import Sources, start_observers
from okta_risk_output.observe.progress import IntakeMeter
from tests.support import FakeClock


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def spool_status() -> dict[str, Any]:
    return {
        "signals": 2,
        "bytes_of_signals": 100,
        "file_bytes": 4096,
        "by_risk_level": {"HIGH": 2, "MEDIUM": 0, "LOW": 0},
        "in_flight": 0,
        "waiting_retry": 0,
        "oldest_age_seconds": 1.0,
        "totals": {"accepted": 2},
    }


@pytest.fixture(autouse=True)
def _logs() -> Iterator[None]:
    yield
    setup_logging()


def sources(counters: Counters | None = None) -> Sources:
    return Sources(
        counters_snapshot=(counters or Counters()).snapshot,
        spool_status=spool_status,
        next_send=lambda: 0.5,
    )


def lines_read(path: Path) -> float:
    for family in text_string_to_metric_families(path.read_text()):
        for sample in family.samples:
            if sample.name == "okta_risk_output_lines_read_total":
                return sample.value
    raise AssertionError("no lines_read_total")


def test_nothing_asked_for_only_the_progress_line(clock: FakeClock) -> None:
    logs = io.StringIO()
    setup_logging("INFO", logs)
    observers = start_observers(sources(), clock=clock, stats_interval=5.0)
    assert observers.telemetry is None and observers.live is None
    (ticker,) = observers.tickers
    clock.advance(5.0)
    ticker.tick()
    assert logs.getvalue().startswith("INFO progress lines=0 ")
    observers.on_request("delivered", 0.1)  # no telemetry: ignored
    observers.close()


def test_metrics_file_is_written_at_start_on_ticks_and_at_close(
    tmp_path: Path, clock: FakeClock
) -> None:
    counters = Counters()
    path = tmp_path / "m.prom"
    observers = start_observers(sources(counters), clock=clock, metrics_file=str(path))
    assert lines_read(path) == 0
    counters.add(lines=3, spooled=3)
    clock.advance(15.0)
    for ticker in observers.tickers:
        ticker.tick()
    assert lines_read(path) == 3
    counters.add(lines=1, blank=1)
    observers.on_request("delivered", 0.25)
    observers.close()
    assert lines_read(path) == 4
    assert "okta_risk_output_requests_total" in path.read_text()
    observers.close()  # again: nothing happens
    assert observers.tickers == []


def test_an_unwritable_metrics_file_is_a_config_error(tmp_path: Path, clock: FakeClock) -> None:
    with pytest.raises(ConfigError, match="--metrics-file: cannot write"):
        start_observers(sources(), clock=clock, metrics_file=str(tmp_path / "no" / "m.prom"))


def test_a_port_in_use_is_a_config_error(clock: FakeClock) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"--metrics-port: cannot listen on 127.0.0.1:{port}"):
            start_observers(sources(), clock=clock, metrics_port=port)


def test_the_metrics_port_serves_until_close(clock: FakeClock) -> None:
    observers = start_observers(sources(), clock=clock, metrics_port=0)
    assert observers.server is not None
    thread = observers.server.thread
    observers.close()
    assert not thread.is_alive()


def test_no_live_line_when_stderr_is_not_a_terminal(clock: FakeClock) -> None:
    stderr = io.StringIO()
    setup_logging("INFO", stderr)
    observers = start_observers(sources(), clock=clock, stderr=stderr, meter=IntakeMeter(10))
    log.warning("something")
    observers.close()
    assert observers.live is None
    assert stderr.getvalue() == "WARN something\n"


def test_a_live_line_on_a_terminal_with_the_bar_and_log_lines_above_it(clock: FakeClock) -> None:
    tty = FakeTty()
    setup_logging("INFO", tty)
    meter = IntakeMeter(100)
    observers = start_observers(sources(), clock=clock, stderr=tty, meter=meter)
    assert observers.live is not None
    log.warning("retrying")
    meter.add(100)
    observers.close()
    text = tty.getvalue()
    assert text.startswith("\rreading [....................]   0% 0 B of 100 B | delivered 0, ")
    assert "WARN retrying\n" in text
    # The final drawing (cut to the terminal's width), then the line ends.
    final = "read 100 B | delivered 0, waiting 2 (HIGH 2, MEDIUM 0, LOW 0), next send in 0.5s"
    last = text.rstrip("\n").rsplit("\r", 1)[-1]
    assert final.startswith(last) and len(last) >= 60 and text.endswith("\n")
    # Logging no longer steps around a line that is gone.
    log.warning("after")
    assert tty.getvalue().endswith("\nWARN after\n")
