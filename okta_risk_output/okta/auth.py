"""Credentials. A Secret never shows its value in a repr, str, log line or error.

Every credential is an `OktaAuth`: a requests auth that sets the headers, plus `renew()`,
which the delivery code calls once after a 401 before it retries (and stops on a second).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import requests
from requests.auth import AuthBase

if TYPE_CHECKING:
    # Only for annotations: oauth.py loads PyJWT and cryptography, which an SSWS run need not.
    from okta_risk_output.okta.oauth import TokenClient

__all__ = ["OAuthAuth", "OktaAuth", "Secret", "SswsAuth"]


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class OktaAuth(AuthBase):
    """A credential for Okta's API."""

    renewable = False
    """Whether `renew()` can yield a different credential, so that retrying a 401 makes sense."""

    def renew(self) -> None:
        """Replace the credential before the next request (Okta answered 401)."""


class SswsAuth(OktaAuth):
    """Okta API token: `Authorization: SSWS <token>`. Nothing to renew."""

    def __init__(self, token: Secret) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"SSWS {self._token.reveal()}"
        return request

    def __repr__(self) -> str:
        return "SswsAuth(token=Secret('********'))"


class OAuthAuth(OktaAuth):
    """An OAuth access token: `Authorization: Bearer <token>`, or for a DPoP-bound token
    `Authorization: DPoP <token>` plus a `DPoP` proof for this request's method and URL."""

    renewable = True

    def __init__(self, tokens: TokenClient) -> None:
        self._tokens = tokens

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        token = self._tokens.current()
        request.headers["Authorization"] = f"{token.scheme} {token.value.reveal()}"
        if token.dpop_bound:
            request.headers["DPoP"] = self._tokens.proof(
                request.method or "GET", request.url or "", token
            )
        else:
            request.headers.pop("DPoP", None)
        # A newer nonce on any answer replaces the stored one for the next proof.
        request.register_hook("response", self._observe)  # type: ignore[no-untyped-call]
        return request

    def _observe(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._tokens.nonces.observe(response)

    def renew(self) -> None:
        self._tokens.renew()

    def __repr__(self) -> str:
        return f"OAuthAuth(client_id={self._tokens.settings.client_id!r})"
