"""DPoP (RFC 9449) as Okta checks it: the proof JWT a client signs per request (its typ, key,
signature, htm, htu, age, ath and a `jti` used once) and the nonces the server hands out.

Written independently of the client's `okta/dpop.py`, so that a mistake there is caught here
rather than repeated.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

import jwt

from okta_risk_output.emulator.claims import CLOCK_SKEW, SIGNATURE_ONLY, SpentIds, number
from okta_risk_output.emulator.config import Clock
from okta_risk_output.emulator.messages import Refused, oauth_error
from okta_risk_output.okta.keys import b64url, jwk_thumbprint, public_key_from_jwk

__all__ = [
    "NONCE_ROTATION",
    "NONCE_VALIDITY",
    "PROOF_MAX_AGE",
    "Nonces",
    "Proof",
    "ProofChecker",
]

NONCE_ROTATION = 24 * 3600.0
"""Okta issues a new DPoP nonce every 24 h ..."""
NONCE_VALIDITY = 3 * 24 * 3600.0
"""... and accepts a nonce for 3 days after it was issued."""
PROOF_MAX_AGE = 300.0
"""A DPoP proof older than 5 min is refused."""


@dataclass(frozen=True)
class Proof:
    """A proof that passed: the thumbprint of the key that signed it, and its nonce if any."""

    jkt: str
    nonce: str | None


class Nonces:
    """The DPoP nonces still accepted. Thread-safe."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._issued: dict[str, float] = {}
        """Every nonce still accepted -> when it was issued; the newest is current."""

    def current(self) -> str:
        """The nonce to hand out now; a new one every NONCE_ROTATION seconds."""
        now = self._clock()
        with self._lock:
            for nonce, issued in list(self._issued.items()):
                if now - issued > NONCE_VALIDITY:
                    del self._issued[nonce]
            newest = max(self._issued.items(), key=lambda item: item[1], default=None)
            if newest is not None and now - newest[1] < NONCE_ROTATION:
                return newest[0]
            nonce = secrets.token_urlsafe(24)
            self._issued[nonce] = now
            return nonce

    def accepted(self, nonce: str, now: float) -> bool:
        self.current()  # rotates, and forgets nonces past their validity
        with self._lock:
            issued = self._issued.get(nonce)
        return issued is not None and now - issued <= NONCE_VALIDITY


class ProofChecker:
    """Checks proofs and remembers their `jti`s, so that none is accepted twice."""

    def __init__(self) -> None:
        self._spent = SpentIds()

    def check(
        self, proof: str, method: str, url: str, now: float, *, access_token: str | None = None
    ) -> Proof:
        """The proof for a `method` request to `url`; raises Refused with Okta's answer.

        `access_token` is the token the proof comes with on a resource request (its hash
        must be the proof's ath); None on the token request.
        """
        try:
            header = jwt.get_unverified_header(proof)
        except jwt.PyJWTError:
            raise _bad_proof("The DPoP proof is not a valid JWT.") from None
        if header.get("typ") != "dpop+jwt":
            raise _bad_proof("The DPoP proof JWT must have the typ 'dpop+jwt'.")
        jwk = header.get("jwk")
        if not isinstance(jwk, dict):
            raise _bad_proof("The DPoP proof JWT header must carry the public key as 'jwk'.")
        try:
            key, algorithms = public_key_from_jwk(jwk)
        except ValueError as problem:
            raise _bad_proof(f"The DPoP proof's jwk is not usable: {problem}.") from None
        try:
            claims = jwt.decode(proof, key, algorithms=list(algorithms), options=SIGNATURE_ONLY)
        except jwt.PyJWTError:
            raise _bad_proof("The DPoP proof JWT signature is invalid.") from None
        if claims.get("htm") != method:
            raise _bad_proof("The DPoP proof's htm does not match the request method.")
        htu = claims.get("htu")
        if not isinstance(htu, str) or _comparable(htu) != _comparable(url):
            raise _bad_proof("The DPoP proof's htu does not match the request URL.")
        issued = number(claims, "iat")
        if issued is None:
            raise _bad_proof("The DPoP proof JWT must have an iat claim.")
        if issued < now - PROOF_MAX_AGE:
            raise _bad_proof("The DPoP proof JWT is too old.")
        if issued > now + CLOCK_SKEW:
            raise _bad_proof("The DPoP proof JWT was issued in the future.")
        if access_token is not None:
            expected = b64url(hashlib.sha256(access_token.encode("ascii")).digest())
            if claims.get("ath") != expected:
                raise _bad_proof("The DPoP proof's ath does not match the access token.")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise _bad_proof("The DPoP proof JWT must have a jti claim.")
        if not self._spent.spend(jti, now, issued + PROOF_MAX_AGE + CLOCK_SKEW):
            raise _bad_proof("DPoP proof JWT has already been used.")
        nonce = claims.get("nonce")
        return Proof(jwk_thumbprint(jwk), nonce if isinstance(nonce, str) else None)


def _comparable(url: str) -> tuple[str, str, str]:
    """Scheme, host and path, case-folded where URLs are case-insensitive (RFC 9449 4.3)."""
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower(), parts.path or "/"


def _bad_proof(description: str) -> Refused:
    return Refused(oauth_error(400, "invalid_dpop_proof", description))
