"""What the token endpoint's refusals mean: RFC 6749's `error` read from an answer, and the
`OAuthError` (exit status, and a hint of what to fix) for each refusal.

Transient failures (no answer, 408, 429, 5xx) are not refusals: oauth.TokenClient raises
TokenEndpointUnavailable for them before asking here.
"""

from __future__ import annotations

import requests

from okta_risk_output.errors import ExitStatus, OAuthError
from okta_risk_output.okta.answers import json_object, printable

__all__ = ["oauth_error", "refusal"]


def oauth_error(response: requests.Response) -> tuple[str | None, str | None]:
    """RFC 6749's `error` and `error_description`, cleaned, when the body has them."""
    body = json_object(response)
    error, description = body.get("error"), body.get("error_description")
    return (
        printable(error, 300) if isinstance(error, str) and error else None,
        printable(description, 300) if isinstance(description, str) and description else None,
    )


def refusal(
    url: str,
    status: int,
    error: str | None,
    description: str | None,
    *,
    client_id: str,
    dpop_off: bool,
) -> OAuthError:
    """The error for the token endpoint at `url` refusing `client_id` with HTTP `status`;
    `dpop_off` when DPoP was turned off (--dpop off), which changes the hint for a proof
    the app required."""
    if 300 <= status < 400 or status in (404, 405, 410):
        return OAuthError(
            f"the OAuth token endpoint {url} answered HTTP {status}: check --org-url "
            "(the org's base URL, e.g. https://example.okta.com)",
            ExitStatus.ENDPOINT_MISSING,
            status,
            error,
        )
    said = f"{error}: {description}" if error and description else error or f"HTTP {status}"
    status_and_hint = _REFUSALS.get(error or "")
    if error == "invalid_dpop_proof" and dpop_off:
        status_and_hint = (
            ExitStatus.AUTH_FAILED,
            "the app requires DPoP-bound tokens; use --dpop auto or --dpop on",
        )
    exit_status, hint = status_and_hint or (
        ExitStatus.AUTH_FAILED,
        "check the app's settings in the Okta Admin Console",
    )
    return OAuthError(
        f"Okta's token endpoint refused the OAuth client {client_id} ({said}): {hint}",
        exit_status,
        status,
        error,
    )


_REFUSALS = {
    "invalid_client": (
        ExitStatus.AUTH_FAILED,
        "check the client id, that the app is active, and that the private key (and its key "
        "id) is one registered on the app",
    ),
    "invalid_scope": (
        ExitStatus.PERMISSION_DENIED,
        "grant the scopes to the app on its 'Okta API Scopes' tab (okta.riskEvents.manage "
        "sends risk events), or fix --scopes",
    ),
    "unauthorized_client": (
        ExitStatus.PERMISSION_DENIED,
        "the app may not use the client credentials grant; it must be an API Services app",
    ),
    "invalid_dpop_proof": (
        ExitStatus.AUTH_FAILED,
        "Okta refused our DPoP proof; check that the system clock is right",
    ),
    "use_dpop_nonce": (
        ExitStatus.AUTH_FAILED,
        "Okta kept asking for a new DPoP nonce, even with the one it had just given",
    ),
}
