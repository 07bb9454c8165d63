"""Messages made acceptable to Okta, and the addresses no sign-in Okta sees can come from."""

from __future__ import annotations

import pytest

from okta_risk_output.intake.profiles import MESSAGE_MAX_LENGTH, is_skippable_ip, sanitise_message
from okta_risk_output.intake.validation import event_validator


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Password spray 37 failed logins", "Password spray 37 failed logins"),
        ("ET SCAN Nmap (T1046) on 10.0.0.1:22", "ET SCAN Nmap T1046 on 10.0.0.1 22"),
        ("SSH::Password_Guessing", "SSH Password_Guessing"),
        (
            "guessing passwords (seen in 30 connections).",
            "guessing passwords seen in 30 connections.",
        ),
        ("Query to .cloud TLD", "Query to .cloud TLD"),
        ("Connexion refusée à Zürich", "Connexion refusee a Zurich"),
        ("line one\nline two\ttabbed", "line one line two tabbed"),
        ("  many    spaces  ", "many spaces"),
        ("☠☠☠", ""),
        ("", ""),
    ],
)
def test_messages_are_reduced_to_okta_alphabet(given: str, expected: str) -> None:
    assert sanitise_message(given) == expected


def test_messages_are_cut_to_okta_limit_without_a_trailing_space() -> None:
    cut = sanitise_message("word " * 200)
    assert len(cut) <= MESSAGE_MAX_LENGTH
    assert cut == cut.strip()
    assert sanitise_message("x" * 600) == "x" * MESSAGE_MAX_LENGTH


@pytest.mark.parametrize("given", ["a:b", "é" * 600, "((x)).", "Zeek::Notice ☃ 2001:db8::1"])
def test_sanitised_messages_pass_the_schema_and_sanitising_again_changes_nothing(
    given: str,
) -> None:
    message = sanitise_message(given)
    event = {"subjects": [{"ip": "192.0.2.1", "riskLevel": "LOW", "message": message}]}
    assert event_validator().errors(event) == []
    assert sanitise_message(message) == message


@pytest.mark.parametrize(
    ("ip", "reason"),
    [
        ("0.0.0.0", "unspecified"),  # noqa: S104 (an address to judge, not to bind)
        ("::", "unspecified"),
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.254", "private"),
        ("192.168.1.1", "private"),
        ("fd12:3456:789a::1", "private"),
        ("fc00::1", "private"),
        ("169.254.10.3", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.251", "multicast"),
        ("239.255.255.250", "multicast"),
        ("ff02::1", "multicast"),
        ("100.64.0.1", "cgnat"),
        ("100.127.255.255", "cgnat"),
        ("0.1.2.3", "reserved"),
        ("192.0.0.8", "reserved"),
        ("198.18.0.1", "reserved"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:127.0.0.1", "loopback"),
    ],
)
def test_non_global_addresses_are_skipped_with_their_reason(ip: str, reason: str) -> None:
    assert is_skippable_ip(ip) == reason


@pytest.mark.parametrize(
    "ip",
    [
        "192.0.2.7",  # documentation ranges stay, so examples and tests keep working
        "198.51.100.200",
        "203.0.113.9",
        "2001:db8::5",
        "2001:db8:ffff::1",
        "::ffff:203.0.113.9",
        "1.1.1.1",
        "100.63.255.255",  # just outside carrier-grade NAT
        "100.128.0.0",
        "172.32.0.1",  # just outside 172.16.0.0/12
        "2606:4700::1111",
    ],
)
def test_global_and_documentation_addresses_are_not_skipped(ip: str) -> None:
    assert is_skippable_ip(ip) is None


@pytest.mark.parametrize("text", ["", "not an ip", "300.1.2.3", "192.0.2.0/24", "010.0.0.1"])
def test_text_that_is_no_address_is_left_for_the_schema(text: str) -> None:
    assert is_skippable_ip(text) is None
