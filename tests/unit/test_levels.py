"""Okta's risk levels: one definition, one rank, and no rank guessed for anything else."""

from __future__ import annotations

import pytest

from okta_risk_output.levels import RISK_LEVELS, normal_level, risk_rank
from okta_risk_output.spool.signals import Signal


def test_ranks_follow_the_order_requests_are_filled_in() -> None:
    assert [risk_rank(level) for level in RISK_LEVELS] == [0, 1, 2]


def test_an_unknown_level_has_no_rank() -> None:
    # The spool and packing once disagreed here (LOW's rank in one, after LOW in the other).
    with pytest.raises(ValueError, match="'CRITICAL' is not one of Okta's risk levels"):
        risk_rank("CRITICAL")
    signal = Signal(1, "203.0.113.1", "CRITICAL", None, None, None, "-", 1)
    with pytest.raises(ValueError):
        _ = signal.level_rank


@pytest.mark.parametrize(
    ("raw", "level"),
    [("high", "HIGH"), (" Medium\t", "MEDIUM"), ("LOW", "LOW"), ("critical", None), (3, None)],
)
def test_normal_level_folds_case_and_space_only(raw: object, level: str | None) -> None:
    assert normal_level(raw) == level
