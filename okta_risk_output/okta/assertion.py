"""Client assertions (`private_key_jwt`): the signed JWT with which the service app proves
who it is to the token endpoint, in place of a client secret."""

from __future__ import annotations

import uuid

from okta_risk_output.okta.keys import SigningKey

__all__ = ["ASSERTION_LIFETIME", "ASSERTION_TYPE", "client_assertion"]

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME = 300
"""Seconds a client assertion is valid. Okta allows up to 1 h; it is used at once."""


def client_assertion(key: SigningKey, client_id: str, audience: str, *, now: float) -> str:
    """The signed JWT that authenticates the client; a fresh `jti` each time (Okta refuses a
    reused one)."""
    issued = int(now)
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": issued,
        "exp": issued + ASSERTION_LIFETIME,
        "jti": str(uuid.uuid4()),
    }
    return key.sign(claims)
