"""Addresses: the one rule for "this address stays on this machine" (where plain http is
allowed), and dotted-quad IPv4 text read as ipaddress reads it, at a fraction of its cost."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

__all__ = ["dotted_quad", "is_loopback", "is_loopback_url"]


def is_loopback(host: str) -> bool:
    """'localhost', 127.0.0.0/8 and ::1; not a name that merely resolves to one of them."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_loopback_url(url: str) -> bool:
    return is_loopback(urlsplit(url).hostname or "")


def dotted_quad(text: str) -> tuple[str, str, str, str] | None:
    """The four octets of `text` when it writes an IPv4 address; None when it does not.

    Exactly the texts `ipaddress.IPv4Address` accepts (four ASCII decimal octets, no leading
    zeros, each at most 255), and so exactly the texts that are their own canonical form.
    Intake reads an address per line: one compiled match costs a fraction of building the
    object (tests/unit/test_canonical_ip.py holds it to ipaddress).
    """
    if len(text) > 15:  # longer than 255.255.255.255: never one, and never remembered
        return None
    try:
        return _SEEN[text]  # a line's address is read twice: made canonical, then validated
    except KeyError:
        pass
    match = _DOTTED_QUAD.fullmatch(text)
    octets = None
    if match is not None:
        a, b, c, d = match.groups()
        octets = a, b, c, d
    if len(_SEEN) >= _SEEN_MAX:
        _SEEN.clear()
    _SEEN[text] = octets
    return octets


# The answers for the texts met lately (bounded; each is what matching again would give).
_SEEN: dict[str, tuple[str, str, str, str] | None] = {}
_SEEN_MAX = 4096
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_DOTTED_QUAD = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}")
