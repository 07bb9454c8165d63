"""When a batch is due, and the backlog's one-way hand-over."""

from __future__ import annotations

import threading

import pytest
from conftest import FakeClock

from okta_risk_output.batching import Backlog, Pending, batch_due


@pytest.mark.parametrize(
    ("count", "age", "ended", "due"),
    [
        (0, 0.0, True, False),
        (1, 0.0, False, False),
        (1, 1.9, False, False),
        (1, 2.0, False, True),
        (19, 0.0, False, False),
        (20, 0.0, False, True),
        (3, 0.0, True, True),
    ],
)
def test_due_when_full_lingered_or_ended(count: int, age: float, ended: bool, due: bool) -> None:
    assert batch_due(count, age, max_events=20, linger=2.0, ended=ended) is due


def pending(n: int, clock: FakeClock) -> Pending:
    return Pending({"n": n}, "t", n, clock.monotonic())


def test_take_returns_full_batches_then_the_rest_at_end_of_input() -> None:
    clock = FakeClock()
    backlog = Backlog(clock)
    for n in range(45):
        assert backlog.put(pending(n, clock))
    backlog.end_of_input()
    stop = threading.Event()
    sizes = [len(backlog.take(20, 2.0, stop)) for _ in range(4)]
    assert sizes == [20, 20, 5, 0]


def test_halt_hands_back_everything_and_refuses_more() -> None:
    clock = FakeClock()
    backlog = Backlog(clock)
    backlog.put(pending(1, clock))
    backlog.put(pending(2, clock))
    assert [p.line for p in backlog.halt()] == [1, 2]
    assert backlog.put(pending(3, clock)) is False
    assert backlog.take(20, 2.0, threading.Event()) == []


def test_a_full_backlog_blocks_intake_until_halted() -> None:
    clock = FakeClock()
    backlog = Backlog(clock, max_pending=1)
    backlog.put(pending(1, clock))
    result: list[bool] = []
    blocked = threading.Thread(target=lambda: result.append(backlog.put(pending(2, clock))))
    blocked.start()
    blocked.join(0.3)
    assert blocked.is_alive() and result == []
    backlog.halt()
    blocked.join(5)
    assert result == [False]
