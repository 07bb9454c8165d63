"""Progress: the periodic INFO line on a fake clock; the live terminal line only on a TTY."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from okta_risk_output.intake.reader import read_lines
from okta_risk_output.observe.counters import Counters
from okta_risk_output.observe.logs import log, set_overlay, setup_logging
from okta_risk_output.observe.progress import (
    IntakeMeter,
    LiveStatus,
    ProgressLine,
    Sampled,
    backlog_text,
    inputs_are_files,
    intake_text,
    is_terminal,
)
from tests.support import FakeClock


class FakeTty(io.StringIO):
    def isatty(self) -> bool:
        return True


def status(signals: int = 340) -> dict[str, Any]:
    return {
        "signals": signals,
        "by_risk_level": {"HIGH": 20, "MEDIUM": 100, "LOW": signals - 120},
        "oldest_age_seconds": 75.0,
    }


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    setup_logging("INFO", stream)
    yield stream
    set_overlay(None)
    setup_logging()


def counters() -> Counters:
    c = Counters()
    c.add(lines=1000, spooled=990, invalid=7, delivered=650)
    c.skip("private")
    return c


def test_a_progress_line_every_interval_on_the_clock(logs: io.StringIO, clock: FakeClock) -> None:
    line = ProgressLine(
        counters_snapshot=counters().snapshot,
        spool_status=status,
        monotonic=clock.monotonic,
        interval=60.0,
        budget=lambda: {"limit": 600, "remaining": 542, "reset_in": 31.0},
        next_send=lambda: 1.5,
    )
    ticks = []
    for _ in range(300):  # 150 s in half-second steps
        ticks.append(line.tick())
        clock.advance(0.5)
    assert [i for i, logged in enumerate(ticks) if logged] == [120, 240]
    lines = logs.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0] == (
        "INFO progress lines=1001 accepted=990 invalid=7 skipped=1 delivered=650 "
        "backlog=340 (HIGH=20 MEDIUM=100 LOW=220) oldest=75s next_send=1.5s "
        "budget=542/600 reset_in=31s"
    )


def test_progress_line_without_budget_or_anything_to_send(
    logs: io.StringIO, clock: FakeClock
) -> None:
    line = ProgressLine(
        counters_snapshot=Counters().snapshot,
        spool_status=lambda: {**status(0), "by_risk_level": {}, "oldest_age_seconds": None},
        monotonic=clock.monotonic,
        interval=10.0,
    )
    clock.advance(10.0)
    assert line.tick()
    assert logs.getvalue().endswith("oldest=- next_send=- budget=-\n")


def test_interval_0_switches_it_off(logs: io.StringIO, clock: FakeClock) -> None:
    line = ProgressLine(
        counters_snapshot=Counters().snapshot,
        spool_status=status,
        monotonic=clock.monotonic,
        interval=0,
    )
    clock.advance(1e6)
    assert not line.tick() and logs.getvalue() == ""


def test_nothing_at_all_when_the_stream_is_not_a_terminal(tmp_path: Path) -> None:
    stream = io.StringIO()
    meter = IntakeMeter(100)
    live = LiveStatus(stream, [lambda: intake_text(meter), lambda: "backlog"])
    assert not live.enabled and not is_terminal(stream)
    live.start()
    live.render_once()
    with live.suspended():
        stream.write("WARN a log line\n")
    live.stop()
    assert stream.getvalue() == "WARN a log line\n"


def test_a_terminal_gets_carriage_return_updates_padded_over_the_last() -> None:
    tty = FakeTty()
    texts = iter(["reading 10%", "reading 100% and more", "done"])
    live = LiveStatus(tty, [lambda: next(texts)], columns=lambda: 80)
    assert live.enabled
    live.render_once()
    live.render_once()
    live.render_once()
    assert tty.getvalue() == "\rreading 10%\rreading 100% and more\r" + "done".ljust(21)
    live.stop()  # draws once more (the parts are exhausted: kept as is) and ends the line
    assert tty.getvalue().endswith("\n")


def test_log_lines_step_around_the_live_line(logs: io.StringIO) -> None:
    tty = FakeTty()
    setup_logging("INFO", tty)
    live = LiveStatus(tty, [lambda: "waiting 3"], columns=lambda: 80)
    set_overlay(live)
    live.render_once()
    log.warning("retrying")
    # Wiped, the log line, drawn again.
    assert tty.getvalue() == "\rwaiting 3" + "\r         \r" + "WARN retrying\n" + "\rwaiting 3"


def test_the_line_is_cut_to_the_terminal_width() -> None:
    tty = FakeTty()
    live = LiveStatus(tty, [lambda: "x" * 200], columns=lambda: 40)
    live.render_once()
    assert tty.getvalue() == "\r" + "x" * 39


def test_a_failing_part_is_left_out() -> None:
    tty = FakeTty()

    def broken() -> str:
        raise RuntimeError("spool closed")

    live = LiveStatus(tty, [lambda: "read 1.0 KiB", broken], columns=lambda: 80)
    live.render_once()
    assert tty.getvalue() == "\rread 1.0 KiB"


def test_the_meter_counts_bytes_read_through_the_reader(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(b'{"ip": "203.0.113.1"}\n' * 10_000)
    meter = IntakeMeter.for_files([str(path)])
    assert meter.total == 220_000
    assert intake_text(meter) == "reading [....................]   0% 0 B of 214.8 KiB"
    with path.open("rb") as raw:
        stream = meter.wrap(raw)
        lines = read_lines(stream, "in", 1 << 20)
        next(lines)
        assert 0 < meter.read < meter.total
        assert sum(1 for _ in lines) == 9_999
        stream.close()
    assert raw.closed
    assert meter.read == meter.total
    assert intake_text(meter) == "read 214.8 KiB"


def test_backlog_text() -> None:
    assert backlog_text({"delivered": 560}, status(), 1.2) == (
        "delivered 560, waiting 340 (HIGH 20, MEDIUM 100, LOW 220), next send in 1.2s"
    )
    assert backlog_text({"delivered": 0}, status(), 0).endswith(", sending")
    assert backlog_text({"delivered": 0}, status(), None).endswith(", nothing to send")


def test_inputs_are_files_only_for_regular_files(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text("")
    assert inputs_are_files([str(path)])
    assert not inputs_are_files([])
    assert not inputs_are_files([str(path), "-"])
    assert not inputs_are_files(["/dev/null"])


def test_start_draws_at_once_and_stop_ends_the_line() -> None:
    tty = FakeTty()
    live = LiveStatus(tty, [lambda: "waiting 3"], refresh=3600, columns=lambda: 80)
    live.start()
    live.stop()
    assert tty.getvalue() == "\rwaiting 3\rwaiting 3\n"


def test_sampled_asks_a_costly_source_seldom(clock: FakeClock) -> None:
    calls = []

    def costly() -> int:
        calls.append(clock.monotonic())
        clock.advance(0.25)  # a million-signal spool's status
        return len(calls)

    sampled = Sampled(costly, clock.monotonic, every=1.0, share=0.05)
    seen = []
    for _ in range(40):  # 20 s of redraws, twice a second
        seen.append(sampled())
        clock.advance(0.5)
    # 0.25 s of work buys 5 s of rest: 5% of the time, not 50%.
    assert len(calls) <= 5
    assert seen[0] == 1 and seen[1] == 1 and seen[-1] == len(calls)


def test_sampled_cheap_sources_refresh_every_second(clock: FakeClock) -> None:
    sampled = Sampled(lambda: clock.monotonic(), clock.monotonic, every=1.0)
    first = sampled()
    clock.advance(0.5)
    assert sampled() == first
    clock.advance(0.5)
    assert sampled() == first + 1.0


def test_one_slow_answer_keeps_a_sample_at_most_thirty_seconds(clock: FakeClock) -> None:
    def stalled() -> float:
        clock.advance(4.0)  # waited 4 s for the spool's lock (a long fold)
        return clock.monotonic()

    sampled = Sampled(stalled, clock.monotonic, every=5.0, share=0.05)
    first = sampled()
    clock.advance(29.0)  # 4 s / 5% would be 80 s
    assert sampled() == first
    clock.advance(1.5)
    assert sampled() > first
