"""What went wrong when no answer came: one short line naming the host and what to check.

requests and urllib3 wrap the cause in several layers ("HTTPSConnectionPool(host=...):
Max retries exceeded with url: ... (Caused by NameResolutionError(...))"), 300 characters
that bury the one fact a user needs: the org's host does not resolve, refuses, does not
answer in time, or fails TLS. This walks the chain of causes for that fact.
"""

from __future__ import annotations

import socket
import ssl
from urllib.parse import urlsplit

from okta_risk_output.okta.answers import printable

__all__ = ["describe_network_error"]


def describe_network_error(error: BaseException | None, url: str, *, reached: bool) -> str:
    """One line for a request to `url` that got no answer; `reached`: whether any request
    of this run has had an answer from that host (if none ever has, the URL is suspect)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    where = f"{host}:{parts.port}" if parts.port else host
    never = "" if reached else "; no request of this run has reached it: check --org-url"
    causes = list(_chain(error))
    if any(_is_name_error(c) for c in causes):
        found = "" if reached else " (it never resolved in this run)"
        return f"cannot resolve {host}, the host of --org-url{found}: check the org URL and DNS"
    if any(isinstance(c, ssl.SSLError) or type(c).__name__ == "SSLError" for c in causes):
        detail = next((str(c) for c in causes if isinstance(c, ssl.SSLError)), "")
        hint = " (--ca-bundle for a private CA or a TLS-inspecting proxy)"
        return f"TLS with {where} failed: {printable(detail, 120) or 'handshake failed'}{hint}"
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return f"{where} refused the connection{never}"
    if any(_is_timeout(c) for c in causes):
        return f"no answer from {where} within --timeout{never}"
    kind = type(error).__name__ if error is not None else "no response"
    return f"network error talking to {where} ({kind}): {printable(str(error), 160)}{never}"


def _chain(error: BaseException | None) -> list[BaseException]:
    """The error and everything it wraps: causes, contexts, and urllib3's `reason`."""
    seen: list[BaseException] = []
    pending = [error]
    while pending:
        current = pending.pop()
        if current is None or any(current is s for s in seen) or len(seen) > 20:
            continue
        seen.append(current)
        reason = getattr(current, "reason", None)
        pending.extend(
            [current.__cause__, current.__context__]
            + ([reason] if isinstance(reason, BaseException) else [])
            + [a for a in current.args if isinstance(a, BaseException)]
        )
    return seen


def _is_name_error(error: BaseException) -> bool:
    # urllib3's NameResolutionError, by name: okta/ may not import urllib3 at start.
    return isinstance(error, socket.gaierror) or type(error).__name__ == "NameResolutionError"


def _is_timeout(error: BaseException) -> bool:
    return isinstance(error, (TimeoutError, socket.timeout)) or "Timeout" in type(error).__name__
