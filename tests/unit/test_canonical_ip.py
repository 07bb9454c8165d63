"""Every address is spooled in one text per address, whatever the input wrote (issue 11, 19).

The spool coalesces on the text of `ip`: `2001:DB8::1`, `2001:db8::1` and
`2001:0db8:0000:0000::0001` must read the same, or one host becomes three subjects. The text
is RFC 5952's, as Python's ipaddress writes it, and an IPv4-mapped IPv6 address is its IPv4.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

import pytest

from okta_risk_output.cli.map import _map_line
from okta_risk_output.errors import RecordRejected, RecordSkipped
from okta_risk_output.intake.profiles import load_profile, parse_profile
from okta_risk_output.intake.reader import Line
from okta_risk_output.intake.records import RecordMapper

NOW = 1_800_000_000.0
FORMS = [
    ("2001:DB8::1", "2001:db8::1"),
    ("2001:db8::1", "2001:db8::1"),
    ("2001:0db8:0000:0000::0001", "2001:db8::1"),
    ("2001:0DB8:0:0:0:0:0:1", "2001:db8::1"),
    ("::ffff:11.0.0.11", "11.0.0.11"),
    ("::FFFF:0b00:000b", "11.0.0.11"),
    ("198.51.100.7", "198.51.100.7"),
]
PROFILE = """
[ip]
source = "client.ip"
[[risk_level]]
level = "HIGH"
"""


def line(record: Any) -> Line:
    data = json.dumps(record).encode()
    return Line("test", 1, data, len(data), False)


def event(record: Any, **settings: Any) -> dict[str, Any]:
    return RecordMapper(**settings).to_event(line(record), NOW)


def ips(event: dict[str, Any]) -> list[str]:
    return [s["ip"] for s in event["subjects"]]


@pytest.mark.parametrize(("written", "canonical"), FORMS)
@pytest.mark.parametrize("strict", [False, True], ids=["", "strict"])
def test_a_flat_signal_is_spooled_with_the_canonical_address(
    written: str, canonical: str, strict: bool
) -> None:
    # Strict too: the canonical text of an address never changes the schema's verdict.
    assert ips(event({"ip": written, "riskLevel": "HIGH"}, strict=strict)) == [canonical]


def test_every_subject_of_a_risk_event_is_canonical() -> None:
    subjects = [{"ip": written, "riskLevel": "LOW"} for written, _ in FORMS]
    assert ips(event({"subjects": subjects})) == [canonical for _, canonical in FORMS]


@pytest.mark.parametrize(("written", "canonical"), FORMS)
def test_every_profile_writes_the_canonical_address(written: str, canonical: str) -> None:
    mapper = RecordMapper(profile=parse_profile(PROFILE, "test.toml"))
    assert ips(mapper.to_event(line({"client": {"ip": written}}), NOW)) == [canonical]
    suricata = {"event_type": "alert", "src_ip": written, "alert": {"severity": 1}}
    mapper = RecordMapper(profile=load_profile("suricata"))
    assert ips(mapper.to_event(line(suricata), NOW)) == [canonical]


@pytest.mark.parametrize(("written", "canonical"), FORMS)
def test_auto_writes_native_signals_and_events_canonical(written: str, canonical: str) -> None:
    mapper = RecordMapper(profile=load_profile("auto"))
    signal = {"ip": written, "riskLevel": "HIGH"}
    assert ips(mapper.to_event(line(signal), NOW)) == [canonical]
    assert ips(mapper.to_event(line({"subjects": [signal]}), NOW)) == [canonical]


def test_map_prints_the_addresses_run_spools() -> None:
    auto = load_profile("auto")
    subjects = [{"ip": "2001:DB8::1", "riskLevel": "LOW"}, {"ip": "10.0.0.1", "riskLevel": "LOW"}]
    printed = _map_line(auto, line({"subjects": subjects}))
    assert printed == {"subjects": [{"ip": "2001:db8::1", "riskLevel": "LOW"}]}
    assert _map_line(auto, line({"ip": "::ffff:11.0.0.11", "riskLevel": "LOW"})) == {
        "ip": "11.0.0.11",
        "riskLevel": "LOW",
    }


def test_an_ipv4_mapped_address_is_judged_and_sent_as_its_ipv4() -> None:
    with pytest.raises(RecordSkipped) as caught:
        event({"ip": "::ffff:10.0.0.1", "riskLevel": "HIGH"})
    assert caught.value.reason == "private"
    allowed = event({"ip": "::ffff:10.0.0.1", "riskLevel": "HIGH"}, allow_non_global_ips=True)
    assert ips(allowed) == ["10.0.0.1"]
    profile = parse_profile(PROFILE, "test.toml", allow_non_global_ips=True)
    assert profile.map({"client": {"ip": "::FFFF:10.0.0.1"}}) == {
        "ip": "10.0.0.1",
        "riskLevel": "HIGH",
    }


@pytest.mark.parametrize("written", ["2001:db8::g", "300.1.2.3", " 192.0.2.1", "FE80::1%eth0"])
def test_what_the_schema_refuses_is_quoted_as_written(written: str) -> None:
    with pytest.raises(RecordRejected) as caught:
        event({"ip": written, "riskLevel": "HIGH"}, allow_non_global_ips=True)
    assert [e.path for e in caught.value.errors] == ["$.ip"]
    assert written in str(caught.value) or repr(written) in str(caught.value)


def test_each_address_is_parsed_once_on_the_hot_path(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[object] = []
    real = ipaddress.ip_address

    def counting(text: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        parsed.append(text)
        return real(text)

    monkeypatch.setattr(ipaddress, "ip_address", counting)
    plain = {"ip": "2001:0db8::1", "riskLevel": "HIGH"}
    suricata = {"event_type": "alert", "src_ip": "2001:0db8::2", "alert": {"severity": 1}}
    for path, mapper, record in [
        ("plain", RecordMapper(), plain),
        ("auto", RecordMapper(profile=load_profile("auto")), plain),
        ("suricata", RecordMapper(profile=load_profile("suricata")), suricata),
    ]:
        parsed.clear()
        mapper.to_event(line(record), NOW)
        assert len(parsed) == 1, f"{path}: parsed {parsed}"
