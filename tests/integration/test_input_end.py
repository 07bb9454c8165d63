"""The delivery loop notices the end of input as soon as it is woken for it, not a nap later.

A short host run (a Fluentd chunk, a Splunk alert) ends when its input has ended and nothing
is left to deliver. The feed thread wakes the loop when its input ends; had the loop asked
whether that thread was still alive, it could find it alive for a moment more (it is still
finishing up), take the wake for nothing, and nap a full quarter second before looking
again: a share of every such run's wall time, and only on some runs.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from okta_risk_output.clock import SystemClock
from okta_risk_output.errors import ExitStatus
from okta_risk_output.intake.loop import Intake
from okta_risk_output.intake.reader import Line
from okta_risk_output.shipper import Shipper
from tests.hosts.hostkit import seq_line
from tests.support import emulator, make_settings


class WatchedClock(SystemClock):
    """The real clock, noting of each wait whether a wake ended it or its time ran out."""

    def __init__(self) -> None:
        self.waits: list[tuple[float, bool]] = []
        self.napping = threading.Event()

    def sleep(self, seconds: float, wake: threading.Event | None = None) -> None:
        if seconds <= 0 or wake is None:
            super().sleep(seconds, wake)
            return
        self.napping.set()
        self.waits.append((seconds, wake.wait(seconds)))


@pytest.mark.parametrize("run", range(5))
def test_a_feed_that_ends_ends_the_run_without_a_nap_to_spare(tmp_path: Path, run: int) -> None:
    # --eof-timeout set: the feed thread then starts its timer after waking the loop, the
    # moment in which it is still alive.
    with emulator() as emu:
        settings = make_settings(
            tmp_path, emu.url, rate_limit="100000/s", linger="0s", eof_timeout="30s"
        )
        clock = WatchedClock()
        shipper = Shipper(settings, clock=clock)
        line = Line("feed", 1, seq_line(run).encode(), len(seq_line(run)))

        def feed(intake: Intake) -> None:
            intake.accept_many([line])
            clock.napping.clear()
            # The input ends while the loop naps, as when a host's last line comes late.
            assert clock.napping.wait(30)

        try:
            assert shipper.run_feed(feed) == ExitStatus.OK
        finally:
            shipper.close()
    assert shipper.counters.snapshot()["delivered"] == 1
    timed_out = [seconds for seconds, woken in clock.waits if not woken and seconds >= 0.1]
    assert timed_out == [], clock.waits
