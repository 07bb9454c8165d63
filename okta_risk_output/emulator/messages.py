"""What passes between the HTTP layer and the emulator's behaviour: the `Request` that came
in, the `Reply` to send (with its `RateInfo` headers), `Access` (what a credential check lets
in), and Okta's error bodies.

Two error shapes exist because Okta has two: its API answers `okta_error` bodies (E0000xxx
codes, a fresh errorId each), its token endpoint RFC 6749 `oauth_error` bodies.
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from okta_risk_output.emulator.paths import ENDPOINT

__all__ = [
    "Access",
    "RateInfo",
    "Refused",
    "Reply",
    "Request",
    "json_or_none",
    "not_found",
    "oauth_error",
    "okta_error",
    "random_id",
]

_ID_ALPHABET = string.ascii_letters + string.digits
_SUMMARIES = {
    "E0000001": "Api validation failed: riskEvents",
    "E0000003": "The request body was not well-formed.",
    "E0000006": "You do not have permission to perform the requested action",
    "E0000007": f"Not found: Resource not found: {ENDPOINT}",
    "E0000009": "Internal Server Error",
    "E0000011": "Invalid token provided",
    "E0000022": "The endpoint does not support the provided HTTP method",
    "E0000047": "API call exceeded rate limit due to too many requests.",
}


@dataclass(frozen=True)
class Request:
    """One request as the emulator's behaviour sees it, its body already read."""

    method: str
    path: str
    """Without the query."""
    url: str
    """The URL as the client addressed it, without query: what DPoP's htu and an assertion's
    `aud` name."""
    body: bytes = b""
    authorization: str | None = None
    dpop: str | None = None
    """The DPoP header: a proof JWT."""
    content_type: str = ""


@dataclass(frozen=True)
class RateInfo:
    """The three X-Rate-Limit-* header values."""

    limit: int
    remaining: int
    reset: int


@dataclass(frozen=True)
class Reply:
    """One answer. `body` None means an empty body; `drop` means close without answering."""

    status: int
    body: Any = None
    rate: RateInfo | None = None
    drop: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)
    """Extra headers, such as DPoP-Nonce or WWW-Authenticate."""


@dataclass(frozen=True)
class Access:
    """A risk-endpoint request the credential lets in: the OAuth client that sent it (None for
    SSWS), and headers to answer with (a DPoP-Nonce)."""

    client_id: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


class Refused(Exception):
    """A check failed; `reply` is the answer. Raised from deep in a check, caught at the top."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


def okta_error(code: str, summary: str | None = None, causes: Sequence[str] = ()) -> dict[str, Any]:
    """An error body shaped like Okta's, with a fresh errorId as Okta gives every failure."""
    return {
        "errorCode": code,
        "errorSummary": summary if summary is not None else _SUMMARIES[code],
        "errorLink": code,
        "errorId": "oae" + random_id(22),
        "errorCauses": [{"errorSummary": cause} for cause in causes],
    }


def not_found(path: str) -> dict[str, Any]:
    return okta_error("E0000007", f"Not found: Resource not found: {path}")


def oauth_error(
    status: int, error: str, description: str, headers: Mapping[str, str] | None = None
) -> Reply:
    """An RFC 6749 error answer, `{"error", "error_description"}`, as Okta's OAuth paths give."""
    return Reply(
        status, {"error": error, "error_description": description}, headers=dict(headers or {})
    )


def random_id(length: int) -> str:
    """Letters and digits, as in Okta's request, error and client ids."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def json_or_none(body: bytes) -> Any:
    """The parsed body, or None when it is not JSON."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # bad UTF-8 is a ValueError too
        return None
