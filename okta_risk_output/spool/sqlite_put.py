"""Putting signals into the SQLite spool: one row per IP subject, appended to the inbox
while there is room; when there is not, the overflow policy, applied to the spool as it
would be were the inbox folded (it is folded first, then each subject merges into the
signal waiting for its IP or takes room).

Each function runs inside the caller's transaction (sqlite.py), which also holds the
running totals and gauges it moves, so a put and its counts commit together.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from okta_risk_output.levels import RISK_LEVELS
from okta_risk_output.spool.sqlite_rows import bump, bump_all, gauge, level_gauge, remove
from okta_risk_output.spool.store import PutResult, SpoolPolicy
from okta_risk_output.spool.subjects import Incoming, incoming, merged, signal_size

__all__ = ["append", "could_ever_hold", "has_room", "put_each", "rejoin"]

_APPEND = (
    "INSERT INTO inbox (ip, rank, message, event_ts, expires_at, accepted_at, source, line,"
    " size, coalesce, coalesce_window) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def append(
    db: sqlite3.Connection,
    policy: SpoolPolicy,
    items: Sequence[tuple[dict[str, Any], str, int]],
    now: float,
) -> list[PutResult] | None:
    """Every subject appended to the inbox, and the totals moved once; None (nothing
    done) when they would not all fit."""
    rows = []
    changes: dict[str, int] = {}
    added_bytes = 0
    coalesce, window = int(policy.coalesce), policy.coalesce_window
    for event, source, line in items:
        for s in incoming(event):
            size = s.size
            rows.append(
                (
                    *(s.ip, s.rank, s.message, s.event_ts, s.expires_at, now, source, line),
                    *(size, coalesce, window),
                )
            )
            added_bytes += size
            name = level_gauge(s.rank)
            changes[name] = changes.get(name, 0) + 1
    count, stored = gauge(db)
    if count + len(rows) > policy.max_events or stored + added_bytes > policy.max_bytes:
        return None
    db.executemany(_APPEND, rows)
    changes.update(accepted=len(rows), live_events=len(rows), live_bytes=added_bytes)
    bump_all(db, changes)
    return [PutResult(accepted=True) for _ in items]


def put_each(
    db: sqlite3.Connection,
    policy: SpoolPolicy,
    items: Sequence[tuple[dict[str, Any], str, int]],
    now: float,
) -> list[PutResult]:
    """Store (event, source, line) items one subject at a time, each merged into the
    signal waiting for its IP or taking room as the overflow policy allows (for a full
    spool, its inbox folded); under `block` the first refusal ends the batch."""
    results: list[PutResult] = []
    whole = policy.overflow != "drop-lowest-risk"
    for event, source, line in items:
        if whole:
            # All of an event's subjects or none: under block or reject-new a
            # refused subject refuses its event, never vanishes from a kept one.
            db.execute("SAVEPOINT event")
        result = _put_event(db, policy, event, source, line, now)
        if whole:
            if not result.accepted:
                db.execute("ROLLBACK TO event")
            db.execute("RELEASE event")
        if not result.accepted and policy.overflow == "block":
            break
        results.append(result)
    return results


def _put_event(
    db: sqlite3.Connection,
    policy: SpoolPolicy,
    event: dict[str, Any],
    source: str,
    line: int,
    now: float,
) -> PutResult:
    """Each subject becomes a signal, or merges into one waiting for the same IP.

    Under drop-lowest-risk the event counts as accepted when any of its subjects was
    kept (the others are counted as dropped); under block and reject-new only when all
    of them were.
    """
    kept = evicted = coalesced = refused = 0
    for signal in incoming(event):
        if policy.coalesce and _coalesce(db, policy, signal, now):
            kept += 1
            coalesced += 1
            continue
        room = _room_for(db, policy, signal)
        if room < 0:
            refused += 1
            continue
        evicted += room
        db.execute(
            "INSERT INTO signals (ip, rank, message, event_ts, expires_at, accepted_at,"
            " source, line, size) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                signal.ip,
                signal.rank,
                signal.message,
                signal.event_ts,
                signal.expires_at,
                now,
                source,
                line,
                signal.size,
            ),
        )
        bump_all(
            db,
            {
                "accepted": 1,
                "live_events": 1,
                "live_bytes": signal.size,
                level_gauge(signal.rank): 1,
            },
        )
        kept += 1
    if kept and refused:
        if policy.overflow != "drop-lowest-risk":
            return PutResult(accepted=False)  # put_many rolls the whole event back
        # The event is kept for its other subjects; these ranked lowest in a full
        # spool. Counted as taken and dropped at once, never lost without a trace.
        bump(db, "accepted", refused)
        bump(db, "dropped", refused)
        evicted += refused
    return PutResult(accepted=kept > 0, evicted=evicted, coalesced=coalesced)


def _coalesce(db: sqlite3.Connection, policy: SpoolPolicy, new: Incoming, now: float) -> bool:
    """Merge into the waiting signal for the same IP, if there is one."""
    window = policy.coalesce_window
    since = float("-inf") if window is None else now - window
    row = db.execute(
        "SELECT id, rank, message, event_ts, expires_at, size FROM signals"
        " WHERE ip = ? AND lease_id IS NULL AND accepted_at >= ? ORDER BY id DESC LIMIT 1",
        (new.ip, since),
    ).fetchone()
    if row is None:
        return False
    _merge_into(db, row, new)
    # The later input is the one counted as coalesced: accepted, and merged away.
    bump(db, "accepted", 1)
    bump(db, "coalesced", 1)
    return True


def rejoin(db: sqlite3.Connection, policy: SpoolPolicy, ids: Sequence[int]) -> None:
    """Signals back to waiting (a retry, a release) merge into a signal now waiting for
    the same IP, which arrived while they were in flight: one waiting signal per IP,
    so a LOW that comes back can never be sent after the HIGH that followed it."""
    if not policy.coalesce:
        return
    window = policy.coalesce_window
    for signal_id in ids:
        back = db.execute(
            "SELECT ip, rank, message, event_ts, expires_at, size, accepted_at FROM signals"
            " WHERE id = ? AND lease_id IS NULL",
            (signal_id,),
        ).fetchone()
        if back is None:
            continue
        ip, rank, message, event_ts, expires_at, size, accepted_at = back
        since = float("-inf") if window is None else accepted_at - window
        waiting = db.execute(
            "SELECT id, rank, message, event_ts, expires_at, size FROM signals"
            " WHERE ip = ? AND lease_id IS NULL AND id != ? AND accepted_at >= ?"
            " ORDER BY id DESC LIMIT 1",
            (ip, signal_id, since),
        ).fetchone()
        if waiting is None:
            continue
        _merge_into(db, waiting, Incoming(ip, rank, message, event_ts, expires_at))
        db.execute("DELETE FROM signals WHERE id = ?", (signal_id,))
        bump_all(
            db, {"coalesced": 1, "live_events": -1, "live_bytes": -size, level_gauge(rank): -1}
        )


def _merge_into(db: sqlite3.Connection, row: tuple[Any, ...], new: Incoming) -> None:
    """Merge `new` into the waiting signal `row` (id, rank, message, event_ts, expires_at,
    size) by the rule of subjects.py. Keeps live_bytes and the level gauges in step; the
    caller counts the merge."""
    signal_id, rank, message, event_ts, expires_at, size = row
    result = merged(Incoming(new.ip, rank, message, event_ts, expires_at), new)
    db.execute(
        "UPDATE signals SET rank = ?, message = ?, event_ts = ?, expires_at = ?, size = ?"
        " WHERE id = ?",
        (
            result.rank,
            result.message,
            result.event_ts,
            result.expires_at,
            result.size,
            signal_id,
        ),
    )
    bump(db, "live_bytes", result.size - size)
    if result.rank != rank:
        bump_all(db, {level_gauge(rank): -1, level_gauge(result.rank): 1})


def _room_for(db: sqlite3.Connection, policy: SpoolPolicy, new: Incoming) -> int:
    """Signals evicted to make room for `new` (0 when it fits); -1 when it is refused."""
    count, size = gauge(db)
    if count + 1 <= policy.max_events and size + new.size <= policy.max_bytes:
        return 0
    if policy.overflow != "drop-lowest-risk":
        return -1
    return _make_room(db, policy, new.rank, new.size)


def _make_room(db: sqlite3.Connection, policy: SpoolPolicy, rank: int, size: int) -> int:
    """Drop the oldest lowest-risk signals until the new one fits; -1 if it ranks lowest.

    Never a HIGH while a lower-risk signal remains, even one in flight: candidates are
    taken LOW first, then MEDIUM, then HIGH, oldest first, and only those ranked at or
    below the new signal. Signals leased for delivery right now are left alone.
    """
    count, total = gauge(db)
    victims: list[int] = []
    freed_events, freed_bytes = 0, 0

    def fits() -> bool:
        return (
            count - freed_events + 1 <= policy.max_events
            and total - freed_bytes + size <= policy.max_bytes
        )

    # Rank by rank from LOW up, each oldest first: every query walks the index in order
    # and stops as soon as enough room is found, however large the spool.
    for victim_rank in range(len(RISK_LEVELS) - 1, rank - 1, -1):
        if victim_rank == rank and not fits():
            # Before a signal as risky as the new one is dropped: lower-risk signals
            # in flight cannot be dropped (a process is sending them), but they must
            # not cost higher-risk work its place either. The cap is exceeded by at
            # most what is in flight, until those requests are settled.
            in_flight, in_flight_bytes = db.execute(
                "SELECT count(*), coalesce(sum(size), 0) FROM signals"
                " INDEXED BY signals_in_flight WHERE lease_id IS NOT NULL AND rank > ?",
                (rank,),
            ).fetchone()
            freed_events += in_flight
            freed_bytes += in_flight_bytes
        if fits():
            break
        rows = db.execute(
            "SELECT id, size FROM signals INDEXED BY signals_by_priority"
            " WHERE rank = ? AND lease_id IS NULL ORDER BY id",
            (victim_rank,),
        )
        for signal_id, victim_size in rows:
            if fits():
                break
            victims.append(signal_id)
            freed_events += 1
            freed_bytes += victim_size
    if not fits():
        return -1
    remove(db, victims, "dropped")
    return len(victims)


def has_room(db: sqlite3.Connection, policy: SpoolPolicy, event: dict[str, Any]) -> bool:
    """For the `block` policy: whether `event` would fit now (a read, under the lock)."""
    needed = [signal_size(s["ip"], s.get("message")) for s in event["subjects"]]
    count, size = gauge(db)
    return count + len(needed) <= policy.max_events and size + sum(needed) <= policy.max_bytes


def could_ever_hold(policy: SpoolPolicy, event: dict[str, Any]) -> bool:
    """Whether `event` fits even an empty spool (else `block` would wait for ever)."""
    needed = [signal_size(s["ip"], s.get("message")) for s in event["subjects"]]
    return len(needed) <= policy.max_events and sum(needed) <= policy.max_bytes
