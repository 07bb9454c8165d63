"""CEF lines: header and extension, the specification's escaping, syslog headers, severity."""

from __future__ import annotations

from typing import Any

import pytest

from okta_risk_output.errors import RecordRejected
from okta_risk_output.intake.profiles import Skip, load_profile
from okta_risk_output.intake.profiles.cef import CefError, find_cef_start, parse_cef

NOW = 1_800_000_000.0
LINE = "CEF:0|Security|IDS|1.0|100|Attack detected|9|src=203.0.113.5 dst=10.0.0.1 msg=Intrusion"


def parsed(line: str) -> dict[str, Any]:
    record = parse_cef(line)
    assert record is not None
    return record


def test_header_fields_get_arcsight_names_and_extension_pairs_are_split() -> None:
    assert parsed(LINE) == {
        "version": "0",
        "deviceVendor": "Security",
        "deviceProduct": "IDS",
        "deviceVersion": "1.0",
        "deviceEventClassId": "100",
        "name": "Attack detected",
        "severity": "9",
        "extension": {"src": "203.0.113.5", "dst": "10.0.0.1", "msg": "Intrusion"},
    }


def test_header_escapes_pipe_and_backslash() -> None:
    record = parsed(r"CEF:0|Ven\|dor|Prod\\uct|1|sig|Name \| with \\ both|5|src=192.0.2.1")
    assert record["deviceVendor"] == "Ven|dor"
    assert record["deviceProduct"] == "Prod\\uct"
    assert record["name"] == "Name | with \\ both"
    assert record["extension"] == {"src": "192.0.2.1"}


def test_extension_escapes_equals_backslash_and_line_breaks() -> None:
    record = parsed(
        r"CEF:0|V|P|1|s|n|5|msg=a\=b c\\d\nnext\rline filePath=C:\\Windows\\x.exe src=192.0.2.1"
    )
    assert record["extension"] == {
        "msg": "a=b c\\d\nnext\rline",
        "filePath": "C:\\Windows\\x.exe",
        "src": "192.0.2.1",
    }


def test_values_keep_their_spaces_and_pipes_and_lose_trailing_blanks() -> None:
    record = parsed("CEF:0|V|P|1|s|n|5|msg=two words | and a pipe   act=blocked   ")
    assert record["extension"] == {"msg": "two words | and a pipe", "act": "blocked"}


def test_an_unescaped_equals_inside_a_value_stays_in_the_value() -> None:
    record = parsed("CEF:0|V|P|1|s|n|5|request=http://x/?a=b&c=d src=192.0.2.1")
    assert record["extension"] == {"request": "http://x/?a=b&c=d", "src": "192.0.2.1"}


def test_the_last_of_repeated_keys_wins_and_dotted_keys_are_keys() -> None:
    record = parsed("CEF:0|V|P|1|s|n|5|cs1=a cs1=b ad.user=x")
    assert record["extension"] == {"cs1": "b", "ad.user": "x"}


def test_a_record_without_extension_is_read() -> None:
    assert parsed("CEF:0|V|P|1|s|n|Low")["severity"] == "Low"
    assert parsed("CEF:0|V|P|1|s|n|Low|")["extension"] == {}


@pytest.mark.parametrize(
    ("prefix", "syslog"),
    [
        (
            "<134>Nov 27 10:15:30 fw-edge-01 ",
            {"priority": 134, "timestamp": "Nov 27 10:15:30", "host": "fw-edge-01"},
        ),
        (
            "<134>Nov  7 10:15:30 fw-edge-01 ",
            {"priority": 134, "timestamp": "Nov  7 10:15:30", "host": "fw-edge-01"},
        ),
        (
            "<134>1 2026-11-27T10:15:30.123Z proxy-02 cef - - - ",
            {"priority": 134, "timestamp": "2026-11-27T10:15:30.123Z", "host": "proxy-02"},
        ),
        (
            "2026-11-27T10:15:30+01:00 waf-01 ",
            {"timestamp": "2026-11-27T10:15:30+01:00", "host": "waf-01"},
        ),
        ("<134>", {"priority": 134}),
    ],
)
def test_syslog_headers_are_read_as_far_as_they_are_recognised(
    prefix: str, syslog: dict[str, Any]
) -> None:
    record = parsed(prefix + LINE)
    assert record["syslog"] == {"header": prefix.strip(), **syslog}
    assert record["extension"]["src"] == "203.0.113.5"


@pytest.mark.parametrize(
    "line",
    ["", "sshd[22]: Accepted publickey", "xCEF:0|V|P|1|s|n|5|", '{"CEF": 1}'],
)
def test_lines_without_a_cef_record_give_none(line: str) -> None:
    assert find_cef_start(line) is None
    assert parse_cef(line) is None


@pytest.mark.parametrize(
    "line",
    ["CEF:0|V|P|1|s", "CEF:", "<134>host CEF:0|Fortinet|FortiGate|v7|04190", "CEF:x|V|P|1|s|n|5|"],
)
def test_a_broken_cef_record_is_an_error_that_says_why(line: str) -> None:
    with pytest.raises(CefError):
        parse_cef(line)


@pytest.mark.parametrize(
    ("severity", "level"),
    [
        ("0", "LOW"),
        ("3", "LOW"),
        ("4", "MEDIUM"),
        ("6", "MEDIUM"),
        ("7", "HIGH"),
        ("8", "HIGH"),
        ("9", "HIGH"),
        ("10", "HIGH"),
        ("Low", "LOW"),
        ("medium", "MEDIUM"),
        ("High", "HIGH"),
        ("Very-High", "HIGH"),
    ],
)
def test_severity_maps_by_the_spec_ranges_and_words(severity: str, level: str) -> None:
    mapped = load_profile("cef").map(f"CEF:0|V|P|1|s|Name|{severity}|src=192.0.2.9", now=NOW)
    assert mapped == {"ip": "192.0.2.9", "riskLevel": level, "message": "Name"}


@pytest.mark.parametrize("severity", ["Unknown", "-1", "", "severe"])
def test_a_severity_with_no_level_is_skipped(severity: str) -> None:
    mapped = load_profile("cef").map(f"CEF:0|V|P|1|s|n|{severity}|src=192.0.2.9", now=NOW)
    assert mapped == Skip("no_risk_level")


def test_the_cef_profile_reads_rt_in_the_spec_forms() -> None:
    profile = load_profile("cef")
    for rt, expected in [
        ("1795774530123", "2026-11-27T10:15:30.123Z"),
        ("Nov 27 2026 10:15:30", "2026-11-27T10:15:30.000Z"),
        ("Nov 27 2026 10:15:30.250", "2026-11-27T10:15:30.250Z"),
        ("Nov 27 2026 10:15:30 UTC", "2026-11-27T10:15:30.000Z"),
    ]:
        mapped = profile.map(f"CEF:0|V|P|1|s|n|5|rt={rt} src=192.0.2.9", now=NOW)
        assert isinstance(mapped, dict)
        assert mapped["timestamp"] == expected


def test_an_unreadable_rt_is_passed_on_for_the_schema_to_reject() -> None:
    mapped = load_profile("cef").map("CEF:0|V|P|1|s|n|5|rt=yesterday src=192.0.2.9", now=NOW)
    assert isinstance(mapped, dict)
    assert mapped["timestamp"] == "yesterday"


def test_the_cef_profile_finds_ipv6_sources_in_c6a2_and_destinations_by_direction() -> None:
    line = "CEF:0|V|P|1|s|n|5|c6a2=2001:db8::7 c6a3=2001:db8::8 c6a2Label=Source IPv6 Address"
    assert load_profile("cef").map(line, now=NOW) == {
        "ip": "2001:db8::7",
        "riskLevel": "MEDIUM",
        "message": "n",
    }
    mapped = load_profile("cef", direction="destination").map(line, now=NOW)
    assert isinstance(mapped, dict)
    assert mapped["ip"] == "2001:db8::8"


def test_the_cef_profile_skips_other_syslog_lines_and_rejects_broken_records() -> None:
    profile = load_profile("cef")
    assert profile.takes_text("anything")
    assert profile.map("<38>Nov 27 10:16:02 fw sshd[2211]: Accepted", now=NOW) == Skip("not_cef")
    with pytest.raises(RecordRejected) as caught:
        profile.map("<134>Nov 27 10:16:02 fw CEF:0|Fortinet|FortiGate", now=NOW)
    assert caught.value.kind == "bad_cef"
    assert "7 fields" in caught.value.errors[0].message
