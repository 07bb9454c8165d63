from __future__ import annotations

import pytest

from okta_risk_output.units import Rate, parse_duration, parse_rate


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0.5", 0.5),
        ("2", 2.0),
        ("2s", 2.0),
        ("250ms", 0.25),
        ("5m", 300.0),
        ("24h", 86400.0),
        ("1d", 86400.0),
        (" 3 min ", 180.0),
        (".5s", 0.5),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "s", "5x", "-1", "1e3", "five"])
def test_bad_durations_say_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("30/min", Rate(30, 60.0)),
        ("600/min", Rate(600, 60.0)),
        ("5/s", Rate(5, 1.0)),
        ("30/60s", Rate(30, 60.0)),
        ("100/h", Rate(100, 3600.0)),
        ("3/2m", Rate(3, 120.0)),
    ],
)
def test_rates(text: str, rate: Rate) -> None:
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["30", "0/min", "-1/s", "x/min", "30/", "30/0s", "2.5/s"])
def test_bad_rates(text: str) -> None:
    with pytest.raises(ValueError, match="is not a rate"):
        parse_rate(text)


def test_a_rate_knows_its_interval_and_prints_as_typed() -> None:
    assert Rate(30, 60.0).interval == 2.0
    assert str(Rate(30, 60.0)) == "30/min"
    assert str(Rate(10, 1.5)) == "10/1.5s"
