"""`status`: the readable table and --watch frames, on a fake clock."""

from __future__ import annotations

import io
import json
from typing import Any

from okta_risk_output.observe.status import render_frame, render_status, watch
from tests.support import FakeClock


def report(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "spool": "/var/lib/okta/spool.db",
        "signals": 4,
        "bytes_of_signals": 600,
        "file_bytes": 3 << 20,
        "by_risk_level": {"HIGH": 1, "MEDIUM": 1, "LOW": 2},
        "in_flight": 1,
        "waiting_retry": 0,
        "oldest_age_seconds": 190.0,
        "last_error": "HTTP 503",
        "damaged_spools_moved_aside": 0,
        "totals": {
            "accepted": 12,
            "delivered": 5,
            "dead_lettered": 1,
            "expired": 1,
            "dropped": 0,
            "coalesced": 1,
        },
        "schema_version": 2,
        "inbox": 2,
    }
    base.update(overrides)
    return base


def test_the_table_shows_where_every_accepted_signal_went() -> None:
    table = render_status(report())
    assert table.splitlines() == [
        "spool                /var/lib/okta/spool.db",
        "file size            3.0 MiB",
        "signals waiting      4 (HIGH 1, MEDIUM 1, LOW 2)",
        "  not yet coalesced  2",
        "  in flight          1",
        "  waiting to retry   0",
        "oldest waiting       3m",
        "last delivery error  HTTP 503",
        "since created        accepted 12 = delivered 5 + dead lettered 1 + expired 1 + "
        "dropped 0 + coalesced 1 + waiting 4",
    ]


def test_a_sum_that_does_not_add_up_is_not_shown_as_an_equation() -> None:
    table = render_status(report(signals=2))
    assert "accepted 12; delivered 5" in table and "(does not add up: +2)" in table


def test_watch_on_a_terminal_replaces_the_frame(clock: FakeClock) -> None:
    out = io.StringIO()
    reports = iter([report(signals=4), report(signals=3)])
    watch(lambda: next(reports), out=out, interval=2.0, clock=clock, tty=True, frames=2)
    frames = out.getvalue().split("\x1b[H\x1b[2J")
    assert frames[0] == "" and len(frames) == 3
    assert frames[1].startswith("okta-risk-output status at 2027-01-15T08:00:00Z, every 2s")
    assert frames[2].startswith("okta-risk-output status at 2027-01-15T08:00:02Z")
    assert "signals waiting      3" in frames[2]
    assert clock.sleeps == [2.0]


def test_watch_elsewhere_prints_blocks_and_json_prints_lines(clock: FakeClock) -> None:
    out = io.StringIO()
    watch(report, out=out, interval=5.0, clock=clock, tty=False, frames=2)
    text = out.getvalue()
    assert "\x1b" not in text
    assert text.count("okta-risk-output status at") == 2 and "\n\nokta-risk-output" in text
    out = io.StringIO()
    watch(report, out=out, interval=5.0, clock=clock, tty=True, as_json=True, frames=3)
    entries = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(entries) == 3 and entries[0]["signals"] == 4 and entries[0]["time"].endswith("Z")


def test_render_frame_has_a_header_then_the_table() -> None:
    frame = render_frame(report(), 1_800_000_000.0, 1.5)
    header, blank, *table = frame.splitlines()
    assert header == "okta-risk-output status at 2027-01-15T08:00:00Z, every 1.5s (Ctrl-C stops)"
    assert blank == "" and table == render_status(report()).splitlines()
