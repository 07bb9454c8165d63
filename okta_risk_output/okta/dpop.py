"""DPoP (RFC 9449): proofs that the sender of a request holds the key a token is bound to.

The DPoP key is ephemeral and separate from the client's signing key, as Okta requires; it
lives as long as the process, or as long as a cached token bound to it (see token_cache.py).
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from okta_risk_output.okta.keys import SigningKey, b64url, jwk_thumbprint, load_private_jwk

__all__ = ["DPoPKey", "NonceStore", "access_token_hash", "htu"]

NONCE_HEADER = "DPoP-Nonce"


class DPoPKey:
    """An ephemeral key pair that signs DPoP proofs; `jkt` is what a bound token names."""

    __slots__ = ("_jwk", "_key", "jkt")

    def __init__(self, key: SigningKey) -> None:
        self._key = key
        self._jwk = key.public_jwk()
        self.jkt = jwk_thumbprint(self._jwk)

    @classmethod
    def generate(cls) -> DPoPKey:
        return cls(SigningKey.generate_ec())

    @classmethod
    def from_private_jwk(cls, jwk: dict[str, Any]) -> DPoPKey:
        """Restore a key saved with `private_jwk` (raises ConfigError when it is not one)."""
        return cls(load_private_jwk(jwk, source="the cached DPoP key"))

    def private_jwk(self) -> dict[str, Any]:
        return self._key.private_jwk()

    def proof(
        self,
        method: str,
        url: str,
        *,
        now: float,
        nonce: str | None = None,
        access_token: str | None = None,
    ) -> str:
        """A proof for one request. `access_token` adds `ath`, as resource requests need."""
        claims: dict[str, Any] = {
            "htm": method.upper(),
            "htu": htu(url),
            "iat": int(now),
            "jti": str(uuid.uuid4()),
        }
        if nonce is not None:
            claims["nonce"] = nonce
        if access_token is not None:
            claims["ath"] = access_token_hash(access_token)
        return self._key.sign(claims, {"typ": "dpop+jwt", "jwk": self._jwk})

    def __repr__(self) -> str:
        return f"DPoPKey(jkt={self.jkt!r})"


class NonceStore:
    """The latest `DPoP-Nonce` any server response gave; a newer one replaces the older."""

    def __init__(self, nonce: str | None = None) -> None:
        self._nonce = nonce
        self._lock = threading.Lock()

    def current(self) -> str | None:
        with self._lock:
            return self._nonce

    def update(self, nonce: str | None) -> None:
        if nonce:
            with self._lock:
                self._nonce = nonce

    def observe(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        """Remember the response's nonce. Shaped as a requests response hook."""
        self.update(response.headers.get(NONCE_HEADER))


def htu(url: str) -> str:
    """The URL a proof names: scheme, host and path, without query or fragment."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def access_token_hash(access_token: str) -> str:
    """DPoP's `ath`: base64url SHA-256 of the token's ASCII text."""
    return b64url(hashlib.sha256(access_token.encode("ascii")).digest())
