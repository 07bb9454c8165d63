"""The HTTP client for Okta's risk events endpoint. It sends; retry.py decides what it meant."""

from __future__ import annotations

import json
import platform
from typing import Any

import requests

from okta_risk_output import __version__
from okta_risk_output.auth import OktaAuth

__all__ = ["ENDPOINT_PATH", "OktaClient", "user_agent"]

ENDPOINT_PATH = "/api/v1/risk/events/ip"


def user_agent() -> str:
    return (
        f"okta-risk-output/{__version__} python-requests/{requests.__version__} "
        f"python/{platform.python_version()}"
    )


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
        # Connecting should be quick; reading may wait on a busy org.
        self._timeout = (min(10.0, timeout), timeout)
        self._session = session or requests.Session()
        self._session.headers.update(
            {
                "Accept": "application/json",
                "Content-Type": "application/json",
                "User-Agent": user_agent(),
            }
        )

    def post(self, events: list[dict[str, Any]]) -> requests.Response:
        """POST one request body; raises requests.RequestException when no answer came."""
        return self._session.post(
            self.url,
            data=json.dumps(events, separators=(",", ":")).encode("utf-8"),
            auth=self.auth,
            timeout=self._timeout,
            # requests would turn a redirected POST into a GET; a redirect is a config error.
            allow_redirects=False,
        )

    def close(self) -> None:
        self._session.close()
