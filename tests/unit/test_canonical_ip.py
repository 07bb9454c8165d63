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
from hypothesis import given, settings
from hypothesis import strategies as st

from okta_risk_output.cli.map import _map_line
from okta_risk_output.errors import RecordRejected, RecordSkipped
from okta_risk_output.intake.profiles import load_profile, parse_profile
from okta_risk_output.intake.profiles.sanitise import (
    _NETWORKS,
    canonical_subject,
    parse_ip,
    skip_reason,
)
from okta_risk_output.intake.reader import Line
from okta_risk_output.intake.records import RecordMapper
from okta_risk_output.intake.validation import is_ipv4
from okta_risk_output.net import dotted_quad

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


# -- the fast reading of a dotted quad (issue 13) ---------------------------------------------

octet_texts = st.one_of(
    st.integers(0, 300).map(str),
    st.sampled_from(["", "00", "01", "007", "0x1", "1 ", "+1", "-1", "1e2", "256"]),
    st.sampled_from(["\u0661", "\uff12"]),  # digits of other scripts
    st.text("0123456789", max_size=4),
)
quads = st.builds(
    lambda parts, sep: sep.join(parts),
    st.lists(octet_texts, min_size=1, max_size=6),
    st.sampled_from([".", ".", ".", ",", ". "]),
)


def _ipaddress_reads(text: str) -> tuple[str, ...] | None:
    try:
        return tuple(str(ipaddress.IPv4Address(text)).split("."))
    except ipaddress.AddressValueError:
        return None


@settings(max_examples=3000, deadline=None)
@given(text=st.one_of(quads, st.text(max_size=16)))
def test_a_dotted_quad_is_exactly_what_ipaddress_reads_and_its_own_canonical_text(
    text: str,
) -> None:
    octets = dotted_quad(text)
    assert octets == _ipaddress_reads(text)
    if octets is not None:
        assert ".".join(octets) == text
        assert parse_ip(text) == ipaddress.ip_address(text)
        assert is_ipv4(text)


def _reference_skip_reason(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    for network, reason in _NETWORKS:
        if address.version == network.version and address in network:
            return reason
    return None


# Addresses at and beside the edges of every non-global range, and anywhere at random.
edges = [
    int(edge) + step
    for network, _ in _NETWORKS
    for edge in (network.network_address, network.broadcast_address)
    for step in (-1, 0, 1)
]
v4 = st.one_of(
    st.sampled_from([e for e in edges if 0 <= e < 1 << 32]), st.integers(0, (1 << 32) - 1)
).map(ipaddress.IPv4Address)
v6 = st.one_of(
    st.sampled_from([e for e in edges if 0 <= e < 1 << 128]), st.integers(0, (1 << 128) - 1)
).map(ipaddress.IPv6Address)


@settings(max_examples=3000, deadline=None)
@given(address=st.one_of(v4, v6))
def test_non_global_ranges_as_integers_judge_as_the_networks_do(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> None:
    assert skip_reason(address) == _reference_skip_reason(address)
    # An IPv4-mapped address is sent, and judged, as its IPv4 address (::ffff:0:0 is 0.0.0.0).
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    judged = mapped or address
    expected = _reference_skip_reason(judged)
    subject = {"ip": str(address), "riskLevel": "HIGH"}
    sent = {"ip": str(judged), "riskLevel": "HIGH"}
    assert canonical_subject(subject, True) == ((subject if expected else sent), expected)
    assert canonical_subject(subject, False) == (sent, None)


def test_a_text_too_long_to_be_a_dotted_quad_is_not_remembered() -> None:
    from okta_risk_output import net

    text = "1" * 100_000  # a line's "ip" may be up to --max-line-bytes long
    assert net.dotted_quad(text) is None
    assert text not in net._SEEN
