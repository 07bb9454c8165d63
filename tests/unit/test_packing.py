"""Packing signals into events and events into a request: the boundaries."""

from __future__ import annotations

from okta_risk_output.delivery.packing import PackLimits, Signal, pack, request_body

T0 = 1_800_000_000.0


def signal(
    n: int, *, ts: float | None = T0, exp: float | None = None, level: str = "HIGH"
) -> Signal:
    return Signal(n, f"203.0.113.{n % 250 + 1}", level, None, ts, exp, "t", n)


def test_fifty_subjects_share_one_event_and_the_fifty_first_opens_another() -> None:
    limits = PackLimits()
    events, left = pack([signal(n) for n in range(50)], limits)
    assert [len(e) for e in events] == [50] and left == []
    events, left = pack([signal(n) for n in range(51)], limits)
    assert [len(e) for e in events] == [50, 1] and left == []


def test_twenty_events_fill_a_request_and_the_rest_waits() -> None:
    limits = PackLimits()
    full = [signal(n) for n in range(1000)]
    events, left = pack(full, limits)
    assert len(events) == 20 and sum(map(len, events)) == 1000 and left == []
    events, left = pack([*full, signal(1000)], limits)
    assert len(events) == 20 and [s.id for s in left] == [1000]
    # 21 different timestamps: 20 events, the 21st signal waits for the next request.
    events, left = pack([signal(n, ts=T0 + n) for n in range(21)], limits)
    assert len(events) == 20 and [s.id for s in left] == [20]


def test_timestamps_and_expiries_equal_after_rounding_share_an_event() -> None:
    limits = PackLimits(granularity=1.0)
    same_second = [signal(1, ts=T0 + 0.1, exp=T0 + 3600.2), signal(2, ts=T0 + 0.9, exp=T0 + 3600.7)]
    other_expiry = signal(3, ts=T0 + 0.5, exp=T0 + 7200)
    no_timestamp = signal(4, ts=None)
    events, _ = pack([*same_second, other_expiry, no_timestamp], limits)
    assert [[s.id for s in e] for e in events] == [[1, 2], [3], [4]]
    body = request_body(events)
    # The event carries the earliest timestamp and the latest expiresAt of its members.
    assert body[0]["timestamp"] == "2027-01-15T08:00:00.100Z"
    assert body[0]["expiresAt"] == "2027-01-15T09:00:00.700Z"
    assert "timestamp" not in body[2]
    assert body[0]["subjects"] == [
        {"ip": "203.0.113.2", "riskLevel": "HIGH"},
        {"ip": "203.0.113.3", "riskLevel": "HIGH"},
    ]


def test_order_is_kept_so_high_goes_in_before_low() -> None:
    limits = PackLimits(max_subjects=2, max_events=1)
    ordered = [signal(1, level="HIGH"), signal(2, level="HIGH"), signal(3, level="LOW")]
    events, left = pack(ordered, limits)
    assert [s.id for s in events[0]] == [1, 2] and [s.id for s in left] == [3]
