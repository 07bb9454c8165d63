"""Pacing with a fake clock: the rate is never exceeded, however slow the network."""

from __future__ import annotations

from itertools import pairwise

import requests

from okta_risk_output.delivery.ratelimit import RateLimiter, ServerBudget, read_budget
from okta_risk_output.units import Rate
from tests.support import FakeClock


def send(limiter: RateLimiter, clock: FakeClock, latency: float = 0.0) -> float:
    """Wait as told, send, take `latency` to answer; returns when the request started."""
    clock.sleep(limiter.delay())
    assert limiter.delay() == 0.0
    limiter.started()
    start = clock.monotonic()
    clock.advance(latency)
    limiter.finished()
    return start


def test_requests_are_spread_evenly_after_a_burst_of_two() -> None:
    clock = FakeClock()
    limiter = RateLimiter(Rate(30, 60.0), clock)
    starts = [send(limiter, clock) for _ in range(5)]
    assert [round(b - a, 6) for a, b in pairwise(starts)] == [0.0, 2.0, 2.0, 2.0]


def test_a_late_request_does_not_push_the_next_ones_back() -> None:
    clock = FakeClock()
    limiter = RateLimiter(Rate(30, 60.0), clock)
    send(limiter, clock)
    send(limiter, clock)
    clock.advance(2.5)  # this one goes half a second late...
    late = send(limiter, clock)
    after = send(limiter, clock)
    assert after - late == 1.5  # ...and the next catches up, back on the 2 s grid


def test_no_window_ever_holds_more_than_the_limit_even_with_a_slow_first_request() -> None:
    clock = FakeClock()
    limiter = RateLimiter(Rate(5, 1.0), clock)
    latencies = [0.9] + [0.0] * 29  # a slow TLS handshake, then fast answers
    spans = []
    for latency in latencies:
        start = send(limiter, clock, latency)
        spans.append((start, start + latency))
    # The server sees each request somewhere between its start and its end; the k-th and
    # (k+5)-th may never fall within one second of each other, whichever moment it was.
    for (_, end_k), (start_k5, _) in zip(spans, spans[5:], strict=False):
        assert start_k5 - end_k >= 1.0 - 1e-9


def test_a_block_holds_every_request_until_it_ends() -> None:
    clock = FakeClock()
    limiter = RateLimiter(Rate(600, 60.0), clock)
    send(limiter, clock)
    limiter.block_for(18.0)
    assert limiter.delay() == 18.0
    clock.advance(10.0)
    assert limiter.delay() == 8.0
    limiter.block_for(1.0)  # a shorter block never shortens a longer one
    assert limiter.delay() == 8.0


def budget(remaining: int, reset_in: float, limit: int = 30) -> ServerBudget:
    return ServerBudget(limit=limit, remaining=remaining, reset_in=reset_in)


def test_oktas_remaining_budget_slows_us_when_it_is_tighter() -> None:
    clock = FakeClock()
    limiter = RateLimiter(Rate(30, 60.0), clock)
    limiter.started()
    # Another client took most of the window: 5 left for the next 49 s (48 after the
    # second taken off for rounding) -> 6 gaps of 8 s, counted from this request's start.
    clock.advance(0.5)  # the answer took half a second
    assert limiter.finished(budget(5, 49.0)) == 8.0
    assert limiter.delay() == 7.5
    clock.advance(7.5)
    assert limiter.delay() == 0.0


def test_no_request_once_remaining_is_zero_until_reset_has_passed() -> None:
    clock = FakeClock()
    limiter = RateLimiter(Rate(30, 60.0), clock)
    limiter.started()
    limiter.finished(budget(0, 17.0))
    assert limiter.delay() == 18.0  # Reset, plus a second for clock skew


def test_a_concurrency_limit_budget_is_not_planned_on() -> None:
    clock = FakeClock()
    limiter = RateLimiter(Rate(30, 60.0), clock)
    send(limiter, clock)
    limiter.started()
    assert limiter.finished(budget(0, 50.0, limit=0)) is None
    assert limiter.delay() == 2.0  # only the local spacing


def test_the_budget_is_read_from_headers_at_their_smallest_on_the_servers_clock() -> None:
    answer = requests.Response()
    answer.headers.update(
        {
            "X-Rate-Limit-Limit": "30, 600",
            "X-Rate-Limit-Remaining": "12, 500",
            "X-Rate-Limit-Reset": "1795773640, 1795773700",
            "Date": "Fri, 27 Nov 2026 10:00:00 GMT",  # epoch 1795773600
        }
    )
    assert read_budget(answer, local_now=0.0) == budget(12, 40.0)
    assert read_budget(requests.Response(), local_now=0.0) is None


def test_what_other_clients_spend_is_set_aside() -> None:
    clock = FakeClock()
    limiter = RateLimiter(Rate(30, 60.0), clock)
    limiter.started()
    limiter.finished(budget(29, 61.0))
    clock.advance(2.0)
    limiter.started()
    # Remaining fell by 5 in 2 s: ours was 1, so others spent 4, 2 a second (averaged in: 1).
    gap = limiter.finished(budget(24, 59.0))
    assert gap is not None
    share = 24 - 1.0 * 58.0  # less than nothing left for us before Reset
    assert share < 1 and gap == 59.0 + 1.0


def test_an_emptied_window_does_not_slow_later_windows() -> None:
    clock = FakeClock()
    limiter = RateLimiter(Rate(600, 60.0), clock)
    limiter.started()
    limiter.finished(budget(20, 30.0, limit=600))
    clock.advance(0.1)
    limiter.started()
    limiter.finished(budget(0, 29.9, limit=600))  # a 429: the window is empty
    clock.advance(31.0)
    limiter.started()
    # A fresh window with plenty left: the local pace (0.1 s) rules again.
    assert limiter.finished(budget(599, 60.0, limit=600)) == 59.0 / 600
