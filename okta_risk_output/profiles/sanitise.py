"""Make a mapped signal acceptable to Okta where that is safe, and say which addresses to skip.

Two rules, both applied to every signal a profile produces:

- A message is reduced to Okta's alphabet (letters, digits, space, '.', '-', '_') and cut to
  512 characters. Accents are folded first (é -> e) so names stay readable; any other run of
  characters becomes a space, or nothing before a full stop ("(seen 30 times)." ->
  "seen 30 times."). This is safe because the message is prose for a human.
- An address that cannot be the source of a sign-in Okta sees (private, loopback, ...) is
  skipped, with the reason. The documentation ranges are deliberately *not* skipped, so that
  examples and tests written with them keep working.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata

__all__ = ["MESSAGE_MAX_LENGTH", "is_skippable_ip", "sanitise_message"]

MESSAGE_MAX_LENGTH = 512
"""Okta's limit for a subject's message (schemas/risk_event.schema.json)."""

_OUTSIDE_ALPHABET = re.compile(r"[^A-Za-z0-9 ._-]+")
_OUTSIDE_BEFORE_STOP = re.compile(r"[^A-Za-z0-9 ._-]+(?=\.)")
_SPACES = re.compile(r" {2,}")


def sanitise_message(text: str) -> str:
    """`text` in Okta's message alphabet, at most 512 characters; '' when nothing is left.

    Idempotent: a sanitised message comes back unchanged.
    """
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


def is_skippable_ip(ip: str) -> str | None:
    """Why `ip` cannot be the source of a sign-in Okta sees, or None if it can.

    Reasons: "unspecified", "loopback", "private", "link-local", "multicast", "cgnat",
    "reserved". None for global addresses, for the documentation ranges (192.0.2.0/24,
    198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) and for text that is not an address at all
    (the schema judges that). An IPv4-mapped IPv6 address is judged by its IPv4 address.
    """
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for network, reason in _NETWORKS:
        if address.version == network.version and address in network:
            return reason
    return None
