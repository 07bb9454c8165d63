"""Each schema rule, one passing and one failing instance."""

from __future__ import annotations

from typing import Any

import pytest

from okta_risk_output.intake.validation import event_validator, request_validator


def event(**subject: Any) -> dict[str, Any]:
    base = {"ip": "192.0.2.10", "riskLevel": "HIGH"}
    return {"subjects": [{**base, **subject}]}


VALID = [
    ("minimal", event()),
    ("ipv6", event(ip="2001:db8::1")),
    ("ipv4-mapped ipv6", event(ip="::ffff:192.0.2.1")),
    (
        "each level",
        {"subjects": [{"ip": "192.0.2.1", "riskLevel": lv} for lv in ("HIGH", "MEDIUM", "LOW")]},
    ),
    ("message alphabet", event(message="Password spray 37 logins. from-VPN_x")),
    ("empty message", event(message="")),
    ("message of 512", event(message="a" * 512)),
    (
        "timestamps",
        {**event(), "timestamp": "2026-11-27T10:00:00.123Z", "expiresAt": "2026-11-28T10:00:00Z"},
    ),
    ("50 subjects", {"subjects": [{"ip": f"192.0.2.{i}", "riskLevel": "LOW"} for i in range(50)]}),
]

INVALID = [
    ("no subjects", {}, "$", "'subjects' is a required property"),
    ("empty subjects", {"subjects": []}, "$.subjects", "at least 1"),
    (
        "51 subjects",
        {"subjects": [{"ip": "192.0.2.1", "riskLevel": "LOW"}] * 51},
        "$.subjects",
        "at most 50",
    ),
    ("unknown event field", {**event(), "severity": 5}, "$", "'severity' was unexpected"),
    ("unknown subject field", event(port=22), "$.subjects[0]", "'port' was unexpected"),
    ("missing ip", {"subjects": [{"riskLevel": "LOW"}]}, "$.subjects[0]", "'ip' is a required"),
    (
        "missing riskLevel",
        {"subjects": [{"ip": "192.0.2.1"}]},
        "$.subjects[0]",
        "'riskLevel' is a required",
    ),
    ("bad ipv4", event(ip="300.1.2.3"), "$.subjects[0].ip", "not an IPv4 or IPv6"),
    ("cidr", event(ip="192.0.2.0/24"), "$.subjects[0].ip", "not an IPv4 or IPv6"),
    ("zone id", event(ip="fe80::1%eth0"), "$.subjects[0].ip", "not an IPv4 or IPv6"),
    ("leading zeros", event(ip="192.000.2.1"), "$.subjects[0].ip", "not an IPv4 or IPv6"),
    ("hostname", event(ip="evil.example.com"), "$.subjects[0].ip", "not an IPv4 or IPv6"),
    ("ip not a string", event(ip=3221225985), "$.subjects[0].ip", "is not of type 'string'"),
    ("lowercase level", event(riskLevel="high"), "$.subjects[0].riskLevel", "not one of HIGH"),
    ("unknown level", event(riskLevel="CRITICAL"), "$.subjects[0].riskLevel", "not one of HIGH"),
    ("message bad chars", event(message="drop table!"), "$.subjects[0].message", "'!'"),
    ("message trailing newline", event(message="ok\n"), "$.subjects[0].message", "'\\n'"),
    ("message of 513", event(message="a" * 513), "$.subjects[0].message", "at most 512"),
    (
        "timestamp offset",
        {**event(), "timestamp": "2026-11-27T10:00:00+02:00"},
        "$.timestamp",
        "UTC date-time",
    ),
    ("timestamp not a date", {**event(), "timestamp": "yesterday"}, "$.timestamp", "UTC date-time"),
    (
        "timestamp month 13",
        {**event(), "timestamp": "2026-13-27T10:00:00.000Z"},
        "$.timestamp",
        "UTC date-time",
    ),
    (
        "timestamp newline",
        {**event(), "expiresAt": "2026-11-27T10:00:00.000Z\n"},
        "$.expiresAt",
        "UTC date-time",
    ),
    (
        "timestamp number",
        {**event(), "timestamp": 1764237600},
        "$.timestamp",
        "is not of type 'string'",
    ),
]


@pytest.mark.parametrize(("name", "instance"), VALID, ids=[v[0] for v in VALID])
def test_valid_events_pass(name: str, instance: dict[str, Any]) -> None:
    assert event_validator().errors(instance) == []


@pytest.mark.parametrize(
    ("name", "instance", "path", "fragment"), INVALID, ids=[v[0] for v in INVALID]
)
def test_invalid_events_fail_with_path_and_reason(
    name: str, instance: dict[str, Any], path: str, fragment: str
) -> None:
    errors = event_validator().errors(instance)
    assert any(e.path == path and fragment in e.message for e in errors), errors


def test_every_error_is_reported_not_only_the_first() -> None:
    errors = event_validator().errors(event(ip="1.2.3", riskLevel="x", message="!"))
    assert [e.path for e in errors] == [
        "$.subjects[0].ip",
        "$.subjects[0].message",
        "$.subjects[0].riskLevel",
    ]


def test_request_holds_one_to_twenty_events() -> None:
    one = event()
    assert request_validator().errors([one] * 20) == []
    assert "at least 1" in request_validator().errors([])[0].message
    assert "at most 20" in request_validator().errors([one] * 21)[0].message
    errors = request_validator().errors([one, event(ip="bad")])
    assert [e.path for e in errors] == ["$[1].subjects[0].ip"]


FORMAT_CASES = [
    "192.0.2.1",
    "192.000.2.1",
    "256.1.1.1",
    "1.2.3",
    "::1",
    "2001:db8::1",
    "2001:db8::1%eth0",
    "::ffff:192.0.2.1",
    "2024-01-31T12:00:00.000Z",
    "2024-01-31t12:00:00z",
    "2024-01-31T12:00:00+01:00",
    "2024-02-30T12:00:00Z",
    "2024-01-31 12:00:00Z",
    "",
    " 192.0.2.1",
    "yesterday",
    # The shortcuts of issue 13: a dotted quad matched at once, the normal form without regex.
    "0.0.0.0",  # noqa: S104 - an address to check, not one to bind
    "255.255.255.255",
    "01.2.3.4",
    "1.2.3.4.",
    "\u0661.2.3.4",
    "2024-02-29T00:00:00.000Z",
    "2023-02-29T00:00:00.000Z",
    "0000-01-01T00:00:00.000Z",
    "0001-01-01T00:00:00.000Z",
    "2024-01-31T24:00:00.000Z",
    "2024-01-31T23:60:00.000Z",
    "2024-01-31T23:59:60.000Z",
    "2024-13-01T00:00:00.000Z",
    "2024-01-31T12:00:00.000Z\n",
]


@pytest.mark.parametrize("value", [*FORMAT_CASES, 7, None])
@pytest.mark.parametrize("name", ["ipv4", "ipv6", "date-time"])
def test_the_fast_path_s_format_checks_are_jsonschema_s(name: str, value: object) -> None:
    # Written out in validation.py so that spooling a valid line needs no jsonschema.
    from jsonschema import Draft202012Validator

    from okta_risk_output.intake import validation

    ours = {"ipv4": validation.is_ipv4, "ipv6": validation.is_ipv6}.get(
        name, validation.is_date_time
    )
    assert ours(value) == Draft202012Validator.FORMAT_CHECKER.conforms(value, name)
