"""Shipper.run_feed in-process: a host adapter drives intake while delivery runs, and
--eof-timeout bounds the end of the run even when Okta does not answer."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from okta_risk_output.clock import SystemClock
from okta_risk_output.errors import ExitStatus
from okta_risk_output.intake.loop import Intake, LineOutcome
from okta_risk_output.intake.reader import Line
from okta_risk_output.shipper import Shipper
from tests.hosts.hostkit import arrived, seq_line
from tests.support import emulator, make_settings


def _lines(numbers: range) -> list[Line]:
    return [Line("feed", n + 1, seq_line(n).encode(), len(seq_line(n))) for n in numbers]


def test_the_feed_sees_durable_outcomes_and_everything_is_delivered(tmp_path: Path) -> None:
    with emulator() as emu:
        settings = make_settings(tmp_path, emu.url, rate_limit="1000/s", linger="50ms")
        shipper = Shipper(settings, clock=SystemClock())
        outcomes: list[LineOutcome] = []

        def feed(intake: Intake) -> None:
            for batch in (_lines(range(10)), _lines(range(10, 25))):
                outcomes.extend(intake.accept_many(batch))
                assert shipper.spool.totals()["accepted"] == len(outcomes)

        try:
            assert shipper.run_feed(feed) == ExitStatus.OK
        finally:
            shipper.close()
    assert outcomes == [LineOutcome.SPOOLED] * 25
    assert set(arrived(emu)) == set(range(25))


def test_eof_timeout_ends_a_run_whose_org_never_answers(tmp_path: Path) -> None:
    # A closed port: every request fails and is retried later, so only the timeout ends it.
    settings = make_settings(tmp_path, "http://127.0.0.1:9", eof_timeout="0.3s", linger="0s")
    stop = threading.Event()
    shipper = Shipper(settings, clock=SystemClock(), stop=stop)
    started = time.monotonic()
    try:
        status = shipper.run_feed(lambda intake: intake.accept_many(_lines(range(3))))
        took = time.monotonic() - started
        assert status == ExitStatus.OK
        assert stop.is_set() and shipper.stopping is stop
        assert shipper.spool.live() == 3
    finally:
        shipper.close()
    assert took < 5, f"took {took:.1f}s"
