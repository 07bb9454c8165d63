"""The one rule for "this address stays on this machine", where plain http is allowed."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

__all__ = ["is_loopback", "is_loopback_url"]


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
