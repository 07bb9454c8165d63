"""`status` for people: the spool's report as a short table, once or over and over (--watch)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any, TextIO

from okta_risk_output.clock import Clock
from okta_risk_output.timestamps import format_utc
from okta_risk_output.units import format_size

__all__ = ["render_frame", "render_status", "watch"]

_CLEAR = "\x1b[H\x1b[2J"
"""Cursor home, clear screen: each frame replaces the last on a terminal."""

_TOTALS_OUT = ("delivered", "dead_lettered", "expired", "dropped", "coalesced")
"""Where accepted signals went: with those still waiting, they add up to `accepted`."""


def render_status(report: dict[str, Any]) -> str:
    levels = report["by_risk_level"]
    age = report["oldest_age_seconds"]
    rows = [
        ("spool", report["spool"]),
        ("file size", format_size(report["file_bytes"])),
        (
            "signals waiting",
            f"{report['signals']} (HIGH {levels['HIGH']}, MEDIUM "
            f"{levels['MEDIUM']}, LOW {levels['LOW']})",
        ),
        ("  not yet coalesced", str(report.get("inbox", 0))),
        ("  in flight", str(report["in_flight"])),
        ("  waiting to retry", str(report["waiting_retry"])),
        ("oldest waiting", "-" if age is None else _age(age)),
        ("last delivery error", report["last_error"] or "-"),
        ("since created", _conservation(report)),
    ]
    if report["damaged_spools_moved_aside"]:
        rows.append(("damaged spools moved aside", str(report["damaged_spools_moved_aside"])))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def _conservation(report: dict[str, Any]) -> str:
    """`accepted 9 = delivered 4 + dead lettered 1 + ... + waiting 4`: the guarantee of
    docs/guarantees.md, shown so a person can check it. Should it ever not add up, the line
    says so rather than print a false equation."""
    totals = report["totals"]
    parts = [(name, int(totals.get(name, 0))) for name in _TOTALS_OUT]
    parts.append(("waiting", int(report["signals"])))
    accepted = int(totals.get("accepted", 0))
    terms = " + ".join(f"{name.replace('_', ' ')} {value}" for name, value in parts)
    gap = accepted - sum(value for _, value in parts)
    if gap == 0:
        return f"accepted {accepted} = {terms}"
    return f"accepted {accepted}; {terms} (does not add up: {gap:+d})"


def render_frame(report: dict[str, Any], now: float, interval: float) -> str:
    """One --watch frame: a header with the time, then the table."""
    header = (
        f"okta-risk-output status at {format_utc(now)[:19]}Z, every {interval:g}s (Ctrl-C stops)"
    )
    return header + "\n\n" + render_status(report)


def watch(
    fetch: Callable[[], dict[str, Any]],
    *,
    out: TextIO,
    interval: float,
    clock: Clock,
    tty: bool,
    as_json: bool = False,
    stop: threading.Event | None = None,
    frames: int | None = None,
) -> None:
    """Show `fetch()` every `interval` seconds until `stop` is set, `frames` were shown
    (tests), or Ctrl-C (KeyboardInterrupt, which the caller turns into exit 0).

    On a terminal each frame replaces the last; otherwise (a pipe, a file) frames follow
    each other, a blank line apart, so the output reads as a log. With `as_json` every
    frame is one JSON line, for machines, whatever the output is.
    """
    shown = 0
    while stop is None or not stop.is_set():
        report = fetch()
        if as_json:
            out.write(json.dumps({"time": format_utc(clock.time()), **report}) + "\n")
        elif tty:
            out.write(_CLEAR + render_frame(report, clock.time(), interval) + "\n")
        else:
            out.write(("\n" if shown else "") + render_frame(report, clock.time(), interval) + "\n")
        out.flush()
        shown += 1
        if frames is not None and shown >= frames:
            return
        clock.sleep(interval, stop)


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"
