"""The shared pacing slot in the SQLite spool: every process on one spool sends as one.

Two rules, both those of delivery/ratelimit.py, kept here so that processes sharing a
spool share Okta's budget:

- the token bucket: meta's `next_send_at` is the next token, taken for every process
  (`interval` apart, by spool/pacing.py's rule);
- the window: the `sends` table has one row per request of any process, its start and its
  end, and at most `limit` requests may fall within `window` from the end of one to the
  start of a later one. A request in flight counts as ending as late as it can (`hold`
  after its start) until `finish` records its end.

Each function runs inside the caller's transaction (sqlite.py): claiming a slot reads and
takes it in one IMMEDIATE transaction, so two processes can never take the same one.
"""

from __future__ import annotations

import sqlite3

from okta_risk_output.clock import NO_WAIT
from okta_risk_output.observe.logs import log
from okta_risk_output.spool.pacing import next_token
from okta_risk_output.spool.sqlite_rows import set_meta

__all__ = ["claim", "defer", "finish"]


def claim(
    db: sqlite3.Connection,
    now: float,
    interval: float,
    *,
    window: float | None,
    limit: int | None,
    hold: float,
    longest: float,
) -> tuple[float, int | None]:
    """(0, slot) when a request may start now, else (seconds to wait, None). A stored time
    further ahead than `longest` (a clock that was ahead, a bad header from an older
    version) counts as `longest` from now, and is rewritten so."""
    row = db.execute("SELECT value FROM meta WHERE key = 'next_send_at'").fetchone()
    next_at = float(row[0]) if row else float("-inf")
    if next_at > now + longest:
        log.warning(
            "the spool's next send time lay %.0fs ahead (a clock that was ahead?);"
            " counting it as %gs",
            next_at - now,
            longest,
        )
        next_at = now + longest
        set_meta(db, "next_send_at", repr(next_at))
    wait = max(0.0, next_at - now)
    if window is not None and limit is not None:
        wait = max(wait, _window_wait(db, now, window, limit, hold))
    if wait > NO_WAIT:
        return wait, None
    set_meta(db, "next_send_at", repr(next_token(next_at, now, interval)))
    cursor = db.execute(
        "INSERT INTO sends (started, ends, hold) VALUES (?, ?, ?)", (now, now + hold, hold)
    )
    return 0.0, cursor.lastrowid


def _window_wait(
    db: sqlite3.Connection, now: float, window: float, limit: int, hold: float
) -> float:
    db.execute("DELETE FROM sends WHERE ends < ?", (now - window,))
    # An end further ahead than its request can last is a clock that was ahead.
    db.execute("UPDATE sends SET ends = ? + hold WHERE ends > ? + hold", (now, now))
    ends = [float(r[0]) for r in db.execute("SELECT ends FROM sends ORDER BY ends")]
    if len(ends) < limit:
        return 0.0
    # This one may start once all but limit - 1 of them ended a window ago.
    return max(0.0, ends[len(ends) - limit] + window - now)


def finish(db: sqlite3.Connection, slot: int, now: float) -> None:
    db.execute("UPDATE sends SET ends = min(ends, ?) WHERE id = ?", (now, slot))


def defer(db: sqlite3.Connection, until: float) -> None:
    """No process sends before `until`; an earlier time never replaces a later one."""
    row = db.execute("SELECT value FROM meta WHERE key = 'next_send_at'").fetchone()
    if row is None or float(row[0]) < until:
        set_meta(db, "next_send_at", repr(until))
