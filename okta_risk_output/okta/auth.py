"""Credentials: what goes in the Authorization header of an API request.

Every credential is an `OktaAuth`: a requests auth that sets the headers, plus `renew()`,
which the delivery code calls once after a 401 before it retries (and stops on a second).
An OAuth credential asks a `TokenSource` (oauth.TokenClient) for its token: a Protocol, so
that this module imports neither oauth.py nor PyJWT and cryptography, which an SSWS run
need not load.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

import requests
from requests.auth import AuthBase

from okta_risk_output.okta.secret import Secret

__all__ = ["AccessToken", "OAuthAuth", "OktaAuth", "SswsAuth", "TokenSource"]


@dataclass(frozen=True)
class AccessToken:
    """A token and when to replace it."""

    value: Secret
    scheme: Literal["Bearer", "DPoP"]
    """The response's token_type, which is also the Authorization scheme to send it with."""
    expires_at: float
    renew_at: float
    scopes: tuple[str, ...]

    @property
    def dpop_bound(self) -> bool:
        return self.scheme == "DPoP"


class TokenSource(Protocol):
    """Gives and renews the access token an `OAuthAuth` sends; oauth.TokenClient is one."""

    @property
    def client_id(self) -> str: ...

    def current(self) -> AccessToken:
        """A token valid for a few more minutes at least."""
        ...

    def renew(self) -> None:
        """Forget the current token: Okta refused it."""
        ...

    def proof(self, method: str, url: str, token: AccessToken) -> str:
        """The DPoP proof for one request made with a DPoP-bound `token`."""
        ...

    def observe(self, response: requests.Response) -> None:
        """Read what an API answer tells the source (a newer DPoP nonce)."""
        ...


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

    def __init__(self, tokens: TokenSource) -> None:
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
        self._tokens.observe(response)

    def renew(self) -> None:
        self._tokens.renew()

    def __repr__(self) -> str:
        return f"OAuthAuth(client_id={self._tokens.client_id!r})"
