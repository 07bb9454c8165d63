"""A Hypothesis state machine: the spool against a plain in-memory model.

Operations: put (a few addresses, so repeats coalesce), lease, ack, dead-letter, retry
later and release (a signal coming back merges into one waiting for its IP) by any lease
still around (one that ran out and was taken over included), expire, time passing
(leases expire), and a crash (the connection dropped mid-life, the file reopened). A put
appends to the inbox; lease, expire, retry later and release fold it first, each subject
merging as it would have on arrival (the model's `_fold`). After each step the spool's
rows and totals must agree with the model, and what a lease settles as delivered must be
exactly what it leased: a signal merged into one in flight, then removed by that
request's ack, would be a signal Okta never received.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from okta_risk_output.levels import RISK_LEVELS
from okta_risk_output.spool.sqlite import Spool
from okta_risk_output.spool.store import Lease

LEASE = 30.0
LEVELS = RISK_LEVELS
ADDRESSES = [f"2001:db8::{n:x}" for n in range(1, 5)]


@dataclass
class Row:
    ip: str
    rank: int
    holder: str | None = None
    lease_until: float = float("-inf")
    ready_at: float = 0.0


@dataclass
class Held:
    lease: Lease
    sent: dict[int, int] = field(default_factory=dict)
    """line -> the rank this lease read (what its request would carry)."""


class SpoolMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.TemporaryDirectory()
        self.path = str(Path(self.folder.name) / "spool.db")
        self.spool = Spool(self.path)
        self.now = 1_800_000_000.0
        self.rows: dict[int, Row] = {}
        self.totals = {"accepted": 0, "delivered": 0, "dead_lettered": 0, "coalesced": 0}
        self.leases: list[Held] = []
        self.inbox: list[tuple[int, str, int]] = []
        """(line, ip, rank) accepted and not yet folded."""
        self.next_line = 0

    def teardown(self) -> None:
        self.spool.close()
        self.folder.cleanup()

    @rule(level=st.sampled_from(LEVELS), ip=st.sampled_from(ADDRESSES))
    def put(self, level: str, ip: str) -> None:
        self.next_line += 1
        event = {"subjects": [{"ip": ip, "riskLevel": level}]}
        result = self.spool.put(event, source="m", line=self.next_line, now=self.now)
        assert result.accepted and result.coalesced == 0
        self.totals["accepted"] += 1
        self.inbox.append((self.next_line, ip, LEVELS.index(level)))

    def _fold(self) -> None:
        for line, ip, rank in self.inbox:
            # Only into a signal nobody holds: never into one in flight (or whose lease ran
            # out but was not yet taken: its holder may still be sending it).
            waiting = [n for n, row in self.rows.items() if row.ip == ip and row.holder is None]
            if waiting:
                target = self.rows[max(waiting)]
                target.rank = min(target.rank, rank)
                self.totals["coalesced"] += 1
            else:
                self.rows[line] = Row(ip, rank)
        self.inbox.clear()

    @rule(limit=st.integers(1, 5))
    def lease(self, limit: int) -> None:
        self._fold()
        ready = sorted(
            (row.rank, line)
            for line, row in self.rows.items()
            if (row.holder is None or row.lease_until <= self.now) and row.ready_at <= self.now
        )
        expected = [line for _, line in ready[:limit]]
        lease = self.spool.lease(self.now, LEASE, lambda candidates: candidates[:limit])
        got = [] if lease is None else [s.line for s in lease.signals]
        assert got == expected
        if lease is not None:
            held = Held(lease)
            for signal in lease.signals:
                row = self.rows[signal.line]
                assert signal.level == LEVELS[row.rank]
                row.holder, row.lease_until = lease.id, self.now + LEASE
                held.sent[signal.line] = row.rank
            self.leases.append(held)

    def _take_lease(self, data: st.DataObject) -> tuple[Held, list[int]]:
        """Any lease still around, and the lines it still holds in the model."""
        held = self.leases.pop(data.draw(st.integers(0, len(self.leases) - 1)))
        mine = [s.line for s in held.lease.signals if self._holds(held, s.line)]
        return held, mine

    def _holds(self, held: Held, line: int) -> bool:
        row = self.rows.get(line)
        return row is not None and row.holder == held.lease.id

    @precondition(lambda self: self.leases)
    @rule(data=st.data())
    def ack(self, data: st.DataObject) -> None:
        held, mine = self._take_lease(data)
        assert self.spool.ack(held.lease, held.lease.signals) == len(mine)
        for line in mine:
            # What leaves as delivered is what this lease's request carried.
            assert self.rows[line].rank == held.sent[line]
            del self.rows[line]
        self.totals["delivered"] += len(mine)

    @precondition(lambda self: self.leases)
    @rule(data=st.data())
    def dead(self, data: st.DataObject) -> None:
        held, mine = self._take_lease(data)
        assert self.spool.dead(held.lease, held.lease.signals) == len(mine)
        for line in mine:
            assert self.rows[line].rank == held.sent[line]
            del self.rows[line]
        self.totals["dead_lettered"] += len(mine)

    @precondition(lambda self: self.leases)
    @rule(data=st.data(), delay=st.floats(0, 100))
    def retry_later(self, data: st.DataObject, delay: float) -> None:
        held, mine = self._take_lease(data)
        self._fold()
        back = self.spool.retry_later(
            held.lease, held.lease.signals, now=self.now, at=self.now + delay, error="HTTP 503"
        )
        assert back == len(mine)
        for line in mine:
            row = self.rows[line]
            row.holder, row.lease_until, row.ready_at = None, float("-inf"), self.now + delay
        self._rejoin(mine)

    @precondition(lambda self: self.leases)
    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        held, mine = self._take_lease(data)
        self._fold()
        assert self.spool.release(held.lease, held.lease.signals) == len(mine)
        for line in mine:
            row = self.rows[line]
            row.holder, row.lease_until = None, float("-inf")
        self._rejoin(mine)

    def _rejoin(self, returned: list[int]) -> None:
        """Back to waiting, a signal merges into one that arrived for its IP meanwhile."""
        for line in returned:
            row = self.rows[line]
            waiting = [
                other
                for other, candidate in self.rows.items()
                if other != line and candidate.ip == row.ip and candidate.holder is None
            ]
            if waiting:
                target = self.rows[max(waiting)]
                target.rank = min(target.rank, row.rank)
                del self.rows[line]
                self.totals["coalesced"] += 1

    @rule()
    def expire(self) -> None:
        # Nothing here has an expiresAt; the step folds the inbox all the same.
        assert self.spool.expire(self.now) == []
        self._fold()

    @rule(seconds=st.floats(0, 60))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds

    @rule()
    def crash_and_reopen(self) -> None:
        # No release, no goodbye: the next connection must see every committed change.
        self.spool._db.close()
        self.spool._unlock()
        self.spool = Spool(self.path)

    @invariant()
    def rows_and_totals_agree(self) -> None:
        assert self.spool.live() == len(self.rows) + len(self.inbox)
        totals = self.spool.totals()
        for name, value in self.totals.items():
            assert totals[name] == value
        assert totals["accepted"] == (
            totals["delivered"]
            + totals["dead_lettered"]
            + totals["coalesced"]
            + totals["live_events"]
        )


SpoolMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
TestSpoolModel = SpoolMachine.TestCase
