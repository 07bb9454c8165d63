"""The delivery seam: the loop drives any output that keeps the Sink contract.

A made-up output (three signals a request, its own record for the dead-letter file, its
own way of naming the guilty) is delivered by the same Deliverer, from a real spool, with
nothing of the risk-events endpoint involved.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from okta_risk_output.delivery.backoff import RetryPolicy
from okta_risk_output.delivery.deliverer import Deliverer
from okta_risk_output.delivery.ratelimit import RateLimiter
from okta_risk_output.delivery.retry import Action, Outcome
from okta_risk_output.delivery.sink import Answer, Sink
from okta_risk_output.intake.deadletter import DeadLetterFile
from okta_risk_output.observe.counters import Counters
from okta_risk_output.spool.signals import Signal
from okta_risk_output.spool.sqlite import Spool
from okta_risk_output.spool.store import Store
from okta_risk_output.units import Rate
from tests.support import FakeClock


class ZoneSink:
    """An output of up to three addresses a request, answering as told."""

    def __init__(self, answers: dict[str, Outcome] | None = None) -> None:
        self.requests: list[list[str]] = []
        self._answers = answers or {}

    @property
    def capacity(self) -> int:
        return 3

    def choose(self, candidates: list[Signal]) -> list[Signal]:
        return candidates[:3]

    def prepare(self, signals: list[Signal]) -> list[str] | Outcome:
        return [s.ip for s in signals]

    def send(self, request: list[str]) -> Answer:
        self.requests.append(request)
        for ip in request:
            if ip in self._answers:
                return Answer(self._answers[ip])
        return Answer(Outcome(Action.DELIVERED, "accepted", 200))

    def named_in(self, signals: Sequence[Signal], causes: Sequence[str]) -> dict[int, list[str]]:
        return {s.id: [c] for s in signals for c in causes if s.ip in c}

    def record_of(self, signal: Signal) -> dict[str, Any]:
        return {"zone": "blocked", "address": signal.ip}

    def renew_credential(self) -> bool:
        return False


def spooled(path: Path, *ips: str, now: float) -> Spool:
    spool = Spool(str(path))
    for n, ip in enumerate(ips, start=1):
        event = {"subjects": [{"ip": ip, "riskLevel": "HIGH"}]}
        assert spool.put(event, source="t", line=n, now=now).accepted
    return spool


def deliverer(sink: Sink[Any], spool: Store, tmp_path: Path, clock: FakeClock) -> Deliverer:
    return Deliverer(
        sink=sink,
        spool=spool,
        limiter=RateLimiter(Rate(600, 60.0), clock),
        policy=RetryPolicy(),
        dead_letter=DeadLetterFile(str(tmp_path / "dead.jsonl")),
        counters=Counters(),
        clock=clock,
        stop=threading.Event(),
        linger=0.0,
        lease_seconds=60.0,
    )


def drain(loop: Deliverer, clock: FakeClock) -> None:
    for _ in range(100):
        wait = loop.step(input_ended=True)
        if wait is None:
            return
        clock.advance(wait)
    raise AssertionError("delivery did not finish")


def test_another_output_is_delivered_by_the_same_loop(tmp_path: Path, clock: FakeClock) -> None:
    ips = [f"192.0.2.{n}" for n in range(1, 8)]
    spool = spooled(tmp_path / "spool.db", *ips, now=clock.time())
    sink = ZoneSink()
    drain(deliverer(sink, spool, tmp_path, clock), clock)
    assert [len(r) for r in sink.requests] == [3, 3, 1]  # the sink's capacity, not 1,000
    assert sorted(ip for r in sink.requests for ip in r) == sorted(ips)
    assert spool.live() == 0 and spool.totals()["delivered"] == 7


def test_a_rejection_the_sink_reads_condemns_only_what_it_names(
    tmp_path: Path, clock: FakeClock
) -> None:
    bad = "192.0.2.2"
    refused = Outcome(Action.REJECTED, "HTTP 400", 400, causes=(f"{bad} is not allowed",))
    spool = spooled(tmp_path / "spool.db", "192.0.2.1", bad, "192.0.2.3", now=clock.time())
    drain(deliverer(ZoneSink({bad: refused}), spool, tmp_path, clock), clock)
    totals = spool.totals()
    assert totals["delivered"] == 2 and totals["dead_lettered"] == 1
    (entry,) = [json.loads(line) for line in (tmp_path / "dead.jsonl").read_text().splitlines()]
    assert entry["event"] == {"zone": "blocked", "address": bad}  # the sink's own record
