"""Lines to RiskEvents: wrapping, normalisation, strictness, and every kind of rejection."""

from __future__ import annotations

import json
from typing import Any

import pytest

from okta_risk_output.errors import RecordRejected
from okta_risk_output.intake.reader import Line
from okta_risk_output.intake.records import RecordMapper
from okta_risk_output.timestamps import normalise_timestamp

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z


def line(data: bytes | str, *, oversized: bool = False, size: int | None = None) -> Line:
    raw = data.encode() if isinstance(data, str) else data
    return Line("test", 7, raw, size if size is not None else len(raw), oversized)


def to_event(record: Any, **settings: Any) -> dict[str, Any]:
    return RecordMapper(**settings).to_event(line(json.dumps(record)), NOW)


def rejection(data: bytes | str, **kwargs: Any) -> RecordRejected:
    with pytest.raises(RecordRejected) as caught:
        RecordMapper().to_event(line(data, **kwargs), NOW)
    return caught.value


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2026-11-27T10:15:30Z", "2026-11-27T10:15:30.000Z"),
        ("2026-11-27T10:15:30.5Z", "2026-11-27T10:15:30.500Z"),
        ("2026-11-27T10:15:30.123456z", "2026-11-27T10:15:30.123Z"),
        ("2026-11-27T12:15:30+02:00", "2026-11-27T10:15:30.000Z"),
        ("2026-11-27T05:15:30.250-05:00", "2026-11-27T10:15:30.250Z"),
        ("2026-11-27 10:15:30+0000", "2026-11-27T10:15:30.000Z"),
        ("2026-11-28T01:00:00+14:00", "2026-11-27T11:00:00.000Z"),
        (1795774530, "2026-11-27T10:15:30.000Z"),
        (1795774530.75, "2026-11-27T10:15:30.750Z"),
        (1795774530123, "2026-11-27T10:15:30.123Z"),
        ("1795774530", "2026-11-27T10:15:30.000Z"),
    ],
)
def test_timestamps_become_utc_milliseconds(given: Any, expected: str) -> None:
    assert normalise_timestamp(given) == expected


@pytest.mark.parametrize("given", ["yesterday", "2026-13-01T00:00:00Z", True, None, [1], 1e30])
def test_unreadable_timestamps_are_left_for_the_schema_to_judge(given: Any) -> None:
    assert normalise_timestamp(given) == given


def test_a_flat_signal_is_wrapped_into_a_one_subject_event() -> None:
    signal = {
        "ip": "192.0.2.7",
        "riskLevel": "high",
        "message": "Password spray",
        "timestamp": "2026-11-27T12:00:00+02:00",
        "expiresAt": 1795780800,
    }
    assert to_event(signal) == {
        "timestamp": "2026-11-27T10:00:00.000Z",
        "expiresAt": "2026-11-27T12:00:00.000Z",
        "subjects": [{"ip": "192.0.2.7", "riskLevel": "HIGH", "message": "Password spray"}],
    }


def test_a_risk_event_passes_through_normalised() -> None:
    event = {"subjects": [{"ip": "2001:db8::5", "riskLevel": " Medium "}], "timestamp": 1795774530}
    assert to_event(event) == {
        "subjects": [{"ip": "2001:db8::5", "riskLevel": "MEDIUM"}],
        "timestamp": "2026-11-27T10:15:30.000Z",
    }


def test_strict_mode_does_not_normalise() -> None:
    with pytest.raises(RecordRejected) as caught:
        to_event({"ip": "192.0.2.7", "riskLevel": "high", "timestamp": 1795774530}, strict=True)
    assert [e.path for e in caught.value.errors] == ["$.riskLevel", "$.timestamp"]


def test_default_expiry_is_counted_from_intake_and_never_overrides() -> None:
    event = to_event({"ip": "192.0.2.7", "riskLevel": "LOW"}, default_expires_in=3600)
    assert event["expiresAt"] == "2027-01-15T09:00:00.000Z"
    given = {"ip": "192.0.2.7", "riskLevel": "LOW", "expiresAt": "2027-02-01T00:00:00.000Z"}
    assert to_event(given, default_expires_in=3600)["expiresAt"] == "2027-02-01T00:00:00.000Z"


def test_errors_of_a_flat_signal_use_its_own_paths_and_all_are_listed() -> None:
    error = rejection('{"ip": "192.0.2.0/24", "riskLevel": "SEVERE", "port": 22}')
    assert error.kind == "invalid"
    assert [e.path for e in error.errors] == ["$.ip", "$.port", "$.riskLevel"]
    assert "unknown field 'port'" in error.errors[1].message


def test_the_error_quotes_the_level_as_written() -> None:
    error = rejection('{"ip": "192.0.2.1", "riskLevel": "severe"}')
    assert "'severe'" in error.errors[0].message


@pytest.mark.parametrize(
    ("data", "kind", "fragment"),
    [
        ('{"ip": "192.0.2.1", "riskLevel": ', "not_json", "not JSON"),
        ("[1, 2]", "not_object", "got an array"),
        ('"text"', "not_object", "got a string"),
        ("42", "not_object", "got a number"),
        ("null", "not_object", "got null"),
        ("true", "not_object", "got a boolean"),
        ('{"a":' * 40 + "1" + "}" * 40, "too_deep", "deeper than 32"),
        ("[" * 100_000 + "]" * 100_000, "too_deep", "deeper than 32"),
        (b'{"ip": "192.0.2.1", "riskLevel": "LOW", "message": "caf\xe9"}', "not_utf8", "byte 56"),
        ('{"hello": "world"}', "invalid", "neither a RiskEvent"),
    ],
)
def test_unusable_lines_are_rejected_with_a_kind(
    data: bytes | str, kind: str, fragment: str
) -> None:
    error = rejection(data)
    assert error.kind == kind
    assert fragment in str(error)


def test_an_oversized_line_is_rejected_without_parsing() -> None:
    error = rejection(b'{"ip": "192.0.2.1"', oversized=True, size=2_000_000)
    assert error.kind == "too_long"
    assert "2000000 bytes" in str(error)
