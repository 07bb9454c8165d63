"""`run --dry-run`: everything but the POST. An `ApiClient` (client.py) that prints each
request body it is given, as one JSON line, and answers as Okta does when all is well.

The body is the one the delivery code built and checked against the request schema, so
what is printed is exactly what would have been sent. The answer is a real
requests.Response, 202 with rate-limit headers that leave the whole budget, so pacing,
retry classification and acknowledgement run unchanged; the client's own rate limit
(--rate-limit) still spaces the requests, as it would against Okta.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from email.utils import formatdate
from typing import Any, TextIO

import requests
from requests.structures import CaseInsensitiveDict

from okta_risk_output.okta.auth import OktaAuth
from okta_risk_output.okta.client import ENDPOINT_PATH

__all__ = ["DRY_RUN_ORG", "DryRunClient"]

DRY_RUN_ORG = "https://dry-run.invalid"
"""The org URL shown for the requests; `.invalid` can never resolve (RFC 2606)."""

_BUDGET = 1_000_000
"""X-Rate-Limit-Limit and -Remaining: far more than any window could use."""
_WINDOW = 60
"""Seconds until X-Rate-Limit-Reset: Okta's windows are a minute."""


class _NoAuth(OktaAuth):
    """No credential: nothing is sent, so none is needed, and none can leak into output."""

    renewable = False

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request


class DryRunClient:
    """Writes each request body to `out` (one JSON line) instead of POSTing it.

    An ApiClient, as OktaClient is, so Shipper(client=...) and the Deliverer take it as they
    are. It has no HTTP session: nothing is sent.
    """

    def __init__(
        self,
        out: TextIO,
        *,
        org_url: str = DRY_RUN_ORG,
        time_source: Callable[[], float] = time.time,
    ) -> None:
        self.url = org_url.rstrip("/") + ENDPOINT_PATH
        self.auth: OktaAuth = _NoAuth()
        self._out = out
        self._time = time_source
        self._lock = threading.Lock()
        self.requests = 0
        """How many bodies were printed."""

    def post(self, events: list[dict[str, Any]]) -> requests.Response:
        body = json.dumps(events, separators=(",", ":"))
        # One write per body under a lock: a line is never interleaved with another.
        with self._lock:
            self._out.write(body + "\n")
            self._out.flush()
            self.requests += 1
        return self._accepted()

    def close(self) -> None:
        """Nothing to close: `out` belongs to the caller."""

    def _accepted(self) -> requests.Response:
        now = self._time()
        response = requests.Response()
        response.status_code = 202
        response.reason = "Accepted (dry run)"
        response.url = self.url
        response.encoding = "utf-8"
        response._content = b""  # an empty body; Response has no public setter for it
        response.headers = CaseInsensitiveDict(
            {
                "Date": formatdate(now, usegmt=True),
                "X-Rate-Limit-Limit": str(_BUDGET),
                "X-Rate-Limit-Remaining": str(_BUDGET),
                "X-Rate-Limit-Reset": str(int(now) + _WINDOW),
                "X-Okta-Request-Id": f"dry-run-{self.requests}",
            }
        )
        return response
