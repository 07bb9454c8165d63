"""Make a mapped signal acceptable to Okta where that is safe, and say which addresses to skip.

Three rules, applied to every signal, mapped or plain:

- A message is reduced to Okta's alphabet (letters, digits, space, '.', '-', '_') and cut to
  512 characters. Accents are folded first (é -> e) so names stay readable; any other run of
  characters becomes a space, or nothing before a full stop ("(seen 30 times)." ->
  "seen 30 times."). This is safe because the message is prose for a human.
- An address is written in its canonical text, whatever form the input gave it.
- An address that cannot be the source of a sign-in Okta sees (private, loopback, ...) is
  skipped, with the reason. The documentation ranges are deliberately *not* skipped, so that
  examples and tests written with them keep working.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from typing import Any, TypeAlias

from okta_risk_output.net import dotted_quad

__all__ = [
    "MESSAGE_MAX_LENGTH",
    "IPAddress",
    "canonical_subject",
    "canonical_subjects",
    "canonical_text",
    "is_skippable_ip",
    "parse_ip",
    "sanitise_message",
    "skip_reason",
]

MESSAGE_MAX_LENGTH = 512
"""Okta's limit for a subject's message (schemas/risk_event.schema.json)."""

_OUTSIDE_ALPHABET = re.compile(r"[^A-Za-z0-9 ._-]+")
_OUTSIDE_BEFORE_STOP = re.compile(r"[^A-Za-z0-9 ._-]+(?=\.)")
_SPACES = re.compile(r" {2,}")
_CLEAN = re.compile(r"[A-Za-z0-9._-]+(?: [A-Za-z0-9._-]+)*")
"""What sanitising leaves as it is: the alphabet, single spaces, none at either end."""


def sanitise_message(text: str) -> str:
    """`text` in Okta's message alphabet, at most 512 characters; '' when nothing is left.

    Idempotent: a sanitised message comes back unchanged.
    """
    if len(text) <= MESSAGE_MAX_LENGTH and _CLEAN.fullmatch(text):
        return text  # most messages: one match instead of folding them character by character
    folded = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    kept = _OUTSIDE_ALPHABET.sub(" ", _OUTSIDE_BEFORE_STOP.sub("", folded))
    spaced = _SPACES.sub(" ", kept).strip()
    return spaced[:MESSAGE_MAX_LENGTH].rstrip()


# Most specific first: 0.0.0.0 is "unspecified" before 0.0.0.0/8 is "reserved".
# Written out rather than taken from ipaddress's is_private/is_global, whose tables count the
# documentation ranges as private and have changed between Python releases.
_NON_GLOBAL: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/32", "unspecified"),
    ("::/128", "unspecified"),
    ("127.0.0.0/8", "loopback"),
    ("::1/128", "loopback"),
    ("10.0.0.0/8", "private"),
    ("172.16.0.0/12", "private"),
    ("192.168.0.0/16", "private"),
    ("fc00::/7", "private"),  # unique-local
    ("fec0::/10", "private"),  # site-local, deprecated but still seen
    ("169.254.0.0/16", "link-local"),
    ("fe80::/10", "link-local"),
    ("224.0.0.0/4", "multicast"),
    ("ff00::/8", "multicast"),
    ("100.64.0.0/10", "cgnat"),
    ("0.0.0.0/8", "reserved"),  # "this network"
    ("192.0.0.0/24", "reserved"),  # IETF protocol assignments
    ("198.18.0.0/15", "reserved"),  # benchmarking
    ("240.0.0.0/4", "reserved"),  # future use, and 255.255.255.255
    ("100::/64", "reserved"),  # discard-only
    ("64:ff9b:1::/48", "reserved"),  # local-use NAT64
    ("2001:2::/48", "reserved"),  # benchmarking
)
_NETWORKS = tuple((ipaddress.ip_network(net), reason) for net, reason in _NON_GLOBAL)
# The same table as integer ranges, per version, in the same order (an address is judged by
# the first range that holds it); for IPv4 also by first octet, which rules out all of them
# for most addresses at the cost of one lookup.
_RANGES = {
    version: tuple(
        (int(net.network_address), int(net.broadcast_address), reason)
        for net, reason in _NETWORKS
        if net.version == version
    )
    for version in (4, 6)
}
_V4_BY_FIRST_OCTET = {
    str(first): tuple(r for r in _RANGES[4] if r[0] >> 24 <= first <= r[1] >> 24)
    for first in range(256)
}


IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_ip(text: str) -> IPAddress | None:
    """The address `text` writes, or None when it writes none (the schema judges that text).

    An IPv4-mapped IPv6 address (::ffff:192.0.2.1) is its IPv4 address: the same host, which
    Okta should see as one subject. `str()` of the result is the canonical text (RFC 5952 for
    IPv6: lower case, zeros compressed), so that the spool, which coalesces on that text, sees
    2001:DB8::1 and 2001:0db8:0:0::0001 as the one address they are.
    """
    if (octets := dotted_quad(text)) is not None:
        return ipaddress.IPv4Address(_v4_value(octets))
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def skip_reason(address: IPAddress) -> str | None:
    """Why `address` cannot be the source of a sign-in Okta sees, or None if it can."""
    value = int(address)
    for low, high, reason in _RANGES[address.version]:
        if low <= value <= high:
            return reason
    return None


def _v4_value(octets: tuple[str, str, str, str]) -> int:
    a, b, c, d = octets
    return int(a) << 24 | int(b) << 16 | int(c) << 8 | int(d)


def _v4_skip_reason(octets: tuple[str, str, str, str]) -> str | None:
    """skip_reason of a dotted quad, without building the address."""
    candidates = _V4_BY_FIRST_OCTET[octets[0]]
    if not candidates:
        return None
    value = _v4_value(octets)
    for low, high, reason in candidates:
        if low <= value <= high:
            return reason
    return None


def canonical_text(address: IPAddress, written: str) -> str:
    """What to send for `address`, which the input wrote as `written`: its canonical text.

    An address with a zone id (fe80::1%eth0), which the schema refuses, stays as written, so
    that the error quotes what the user wrote.
    """
    return written if "%" in written else str(address)


def is_skippable_ip(ip: str) -> str | None:
    """Why `ip` cannot be the source of a sign-in Okta sees, or None if it can.

    Reasons: "unspecified", "loopback", "private", "link-local", "multicast", "cgnat",
    "reserved". None for global addresses, for the documentation ranges (192.0.2.0/24,
    198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) and for text that is not an address at all
    (the schema judges that). An IPv4-mapped IPv6 address is judged by its IPv4 address.
    """
    address = parse_ip(ip)
    return None if address is None else skip_reason(address)


def canonical_subject(subject: Any, skip_non_global: bool) -> tuple[Any, str | None]:
    """`subject` with its address in canonical text, and why to skip it (None: send it).

    The address is parsed once, for both. What is not a subject with an address is returned
    as it is, for the schema to judge.
    """
    ip = subject.get("ip") if isinstance(subject, dict) else None
    if not isinstance(ip, str):
        return subject, None
    if (octets := dotted_quad(ip)) is not None:
        # The common case, read without building the address; a dotted quad is canonical.
        return subject, (_v4_skip_reason(octets) if skip_non_global else None)
    address = parse_ip(ip)
    if address is None:
        return subject, None
    if skip_non_global:
        reason = skip_reason(address)
        if reason:
            return subject, reason
    text = canonical_text(address, ip)
    return (subject if text == ip else {**subject, "ip": text}), None


def canonical_subjects(subjects: list[Any], skip_non_global: bool) -> tuple[list[Any], str | None]:
    """Every subject with its address in canonical text, less those to skip; and, when that
    leaves none of a non-empty list, the first one's skip reason (the record is skipped)."""
    kept: list[Any] = []
    first_reason = None
    for subject in subjects:
        subject, reason = canonical_subject(subject, skip_non_global)
        if reason:
            first_reason = first_reason or reason
        else:
            kept.append(subject)
    return kept, (first_reason if subjects and not kept else None)
