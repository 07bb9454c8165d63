"""The HTTP client for Okta's risk events endpoint. It sends; retry.py decides what it meant.

`ApiClient` is what the delivery code asks of a client: `OktaClient` POSTs to Okta, and
dry_run.DryRunClient prints the bodies instead. Every request is a bounded one
(session.bounded_request): connecting, sending and the full answer end within --timeout.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

import requests

from okta_risk_output.okta.auth import OktaAuth
from okta_risk_output.okta.session import bounded_request, new_session, prepare_session

__all__ = ["ENDPOINT_PATH", "ApiClient", "OktaClient"]

ENDPOINT_PATH = "/api/v1/risk/events/ip"


class ApiClient(Protocol):
    """A client of the risk events endpoint, as the delivery code uses one."""

    @property
    def auth(self) -> OktaAuth:
        """The credential; the delivery code renews it after a 401 when it is renewable."""
        ...

    @property
    def url(self) -> str:
        """The endpoint it POSTs to: named in the line that says why no answer came."""
        ...

    def post(self, events: list[dict[str, Any]]) -> requests.Response:
        """POST one request body and return the answer."""
        ...

    def close(self) -> None: ...


class OktaClient:
    def __init__(
        self,
        org_url: str,
        auth: OktaAuth,
        *,
        timeout: float = 30.0,
        session: requests.Session | None = None,
    ) -> None:
        self.url = org_url.rstrip("/") + ENDPOINT_PATH
        self.auth = auth
        self._total = timeout
        # Connecting should be quick; reading may wait on a busy org. Both within _total.
        self._timeout = (min(10.0, timeout), timeout)
        self._session = new_session() if session is None else prepare_session(session)
        self._session.headers.update(
            {"Accept": "application/json", "Content-Type": "application/json"}
        )

    def post(self, events: list[dict[str, Any]]) -> requests.Response:
        """POST one request body; raises requests.RequestException when no answer came
        within the timeout, HeaderRefused when the credential cannot go in a header."""
        return bounded_request(
            self._session,
            "POST",
            self.url,
            seconds=self._total,
            data=json.dumps(events, separators=(",", ":")).encode("utf-8"),
            auth=self.auth,
            timeout=self._timeout,
        )

    def close(self) -> None:
        self._session.close()
