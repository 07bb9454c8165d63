"""Pacing with a fake clock: the rate is never exceeded, however slow the network."""

from __future__ import annotations

from itertools import pairwise

from conftest import FakeClock

from okta_risk_output.ratelimit import RateLimiter
from okta_risk_output.units import Rate


def send(limiter: RateLimiter, clock: FakeClock, latency: float = 0.0) -> float:
    """Wait as told, send, take `latency` to answer; returns when the request started."""
    clock.sleep(limiter.delay())
    assert limiter.delay() == 0.0
    limiter.started()
    start = clock.monotonic()
    clock.advance(latency)
    limiter.finished()
    return start


def test_requests_are_spread_evenly() -> None:
    clock = FakeClock()
    limiter = RateLimiter(Rate(30, 60.0), clock)
    starts = [send(limiter, clock) for _ in range(5)]
    assert [round(b - a, 6) for a, b in pairwise(starts)] == [2.0, 2.0, 2.0, 2.0]


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
