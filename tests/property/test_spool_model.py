"""A Hypothesis state machine: the spool against a plain in-memory model.

Operations: put, lease, ack, retry later, dead-letter, time passing (leases expire), and a
crash (the connection dropped mid-life, the file reopened). After each step the spool's
rows and totals must agree with the model.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from okta_risk_output.spool import Lease, Spool

LEASE = 30.0
LEVELS = ("HIGH", "MEDIUM", "LOW")


@dataclass
class Row:
    rank: int
    lease_until: float = float("-inf")
    ready_at: float = 0.0


class SpoolMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.TemporaryDirectory()
        self.path = str(Path(self.folder.name) / "spool.db")
        self.spool = Spool(self.path)
        self.now = 1_800_000_000.0
        self.rows: dict[int, Row] = {}
        self.totals = {"accepted": 0, "delivered": 0, "dead_lettered": 0}
        self.leases: list[Lease] = []
        self.next_line = 0

    def teardown(self) -> None:
        self.spool.close()
        self.folder.cleanup()

    @rule(level=st.sampled_from(LEVELS))
    def put(self, level: str) -> None:
        self.next_line += 1
        # A distinct address each time: coalescing has its own tests.
        event = {"subjects": [{"ip": f"2001:db8::{self.next_line:x}", "riskLevel": level}]}
        assert self.spool.put(event, source="m", line=self.next_line, now=self.now).accepted
        self.rows[self.next_line] = Row(LEVELS.index(level))
        self.totals["accepted"] += 1

    @rule(limit=st.integers(1, 5))
    def lease(self, limit: int) -> None:
        ready = sorted(
            (row.rank, line)
            for line, row in self.rows.items()
            if row.lease_until <= self.now and row.ready_at <= self.now
        )
        expected = [line for _, line in ready[:limit]]
        lease = self.spool.lease(self.now, LEASE, lambda candidates: candidates[:limit])
        got = [] if lease is None else [s.line for s in lease.signals]
        assert got == expected
        if lease is not None:
            self.leases.append(lease)
            for line in got:
                self.rows[line].lease_until = self.now + LEASE

    def _take_lease(self, data: st.DataObject) -> Lease:
        return self.leases.pop(data.draw(st.integers(0, len(self.leases) - 1)))

    @precondition(lambda self: self.leases)
    @rule(data=st.data())
    def ack(self, data: st.DataObject) -> None:
        lease = self._take_lease(data)
        present = [s for s in lease.signals if s.line in self.rows]
        assert self.spool.ack(lease.signals) == len(present)
        for leased in present:
            del self.rows[leased.line]
        self.totals["delivered"] += len(present)

    @precondition(lambda self: self.leases)
    @rule(data=st.data())
    def dead(self, data: st.DataObject) -> None:
        lease = self._take_lease(data)
        present = [s for s in lease.signals if s.line in self.rows]
        assert self.spool.dead(lease.signals) == len(present)
        for leased in present:
            del self.rows[leased.line]
        self.totals["dead_lettered"] += len(present)

    @precondition(lambda self: self.leases)
    @rule(data=st.data(), delay=st.floats(0, 100))
    def retry_later(self, data: st.DataObject, delay: float) -> None:
        lease = self._take_lease(data)
        present = [s for s in lease.signals if s.line in self.rows]
        self.spool.retry_later(present, now=self.now, at=self.now + delay, error="HTTP 503")
        for leased in present:
            self.rows[leased.line] = Row(self.rows[leased.line].rank, ready_at=self.now + delay)

    @rule(seconds=st.floats(0, 60))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds

    @rule()
    def crash_and_reopen(self) -> None:
        # No release, no goodbye: the next connection must see every committed change.
        self.spool._db.close()
        self.spool = Spool(self.path)

    @invariant()
    def rows_and_totals_agree(self) -> None:
        assert self.spool.live() == len(self.rows)
        totals = self.spool.totals()
        for name, value in self.totals.items():
            assert totals[name] == value
        assert totals["accepted"] == (
            totals["delivered"] + totals["dead_lettered"] + totals["live_events"]
        )


SpoolMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
TestSpoolModel = SpoolMachine.TestCase
