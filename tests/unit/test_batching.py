"""When a batch is due."""

from __future__ import annotations

import pytest

from okta_risk_output.delivery.batching import batch_due


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
