"""The emulator's OAuth 2.0 authorization server, as Okta's org server behaves for API Services
apps: `POST /oauth2/v1/token` with client credentials and `private_key_jwt`, optionally DPoP
(RFC 9449), and the check of the tokens it issued when they come back on the risk endpoint.

Token endpoint errors are RFC 6749 bodies, `{"error", "error_description"}`, with Okta's codes.
Like Okta, it spends a client assertion's `jti` as soon as the assertion is verified, even when
the request then fails on DPoP; that is why a client must sign a new assertion for its retry
with a nonce. Access tokens are JWTs signed with a key only this process knows.

Proof checks are written independently of the client's `dpop.py`, so that a mistake there is
caught here rather than repeated.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import secrets
import string
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt

from okta_risk_output.emulator.server import Access, Reply, okta_error
from okta_risk_output.emulator.state import (
    RISK_EVENTS_SCOPE,
    Clock,
    EmulatorConfig,
    RegisteredClient,
)
from okta_risk_output.okta.keys import (
    PublicKey,
    SigningKey,
    b64url,
    jwk_thumbprint,
    public_key_from_jwk,
)

__all__ = [
    "ASSERTION_TYPE",
    "AuthorizationServer",
    "new_client",
]

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
NONCE_ROTATION = 24 * 3600.0
"""Okta issues a new DPoP nonce every 24 h ..."""
NONCE_VALIDITY = 3 * 24 * 3600.0
"""... and accepts a nonce for 3 days after it was issued."""
PROOF_MAX_AGE = 300.0
"""A DPoP proof older than 5 min is refused."""
ASSERTION_MAX_LIFETIME = 3600.0
"""A client assertion may not expire more than 1 h ahead."""
CLOCK_SKEW = 60.0
"""Leeway for a client clock that runs a little fast or slow."""

# Signature only: every time-based claim is checked here against the emulator's own clock,
# which tests move, rather than against PyJWT's wall clock.
_SIGNATURE_ONLY: Any = {
    "verify_exp": False,
    "verify_iat": False,
    "verify_nbf": False,
    "verify_aud": False,
    "verify_iss": False,
}
_ID_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class _Key:
    kid: str
    public: PublicKey
    algorithms: tuple[str, ...]


@dataclass
class _Client:
    client_id: str
    keys: list[_Key]
    scopes: frozenset[str]
    disabled: bool


@dataclass(frozen=True)
class _Proof:
    jkt: str
    nonce: str | None


class _Refused(Exception):
    """A check failed; `reply` is the answer. Raised from deep in a check, caught at the top."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


class AuthorizationServer:
    """Registered clients, issued tokens, spent `jti`s and DPoP nonces. Thread-safe."""

    def __init__(self, config: EmulatorConfig, clock: Clock) -> None:
        self._config = config
        self._clock = clock
        self._clients = _load_clients(config.clients, config.disabled_clients)
        self._secret = secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._spent_assertions: dict[str, float] = {}
        """Client assertion jti -> when it may be forgotten (it has expired by then)."""
        self._spent_proofs: dict[str, float] = {}
        """DPoP proof jti -> when it may be forgotten (it is too old by then)."""
        self._nonces: dict[str, float] = {}
        """Every DPoP nonce still accepted -> when it was issued; the newest is current."""
        self._tally: Counter[str] = Counter()

    # -- the token endpoint ---------------------------------------------------------------

    def token(
        self, *, method: str, url: str, content_type: str, dpop: str | None, body: bytes
    ) -> Reply:
        """The answer of `POST /oauth2/v1/token` at `url` (as the client addressed it)."""
        if method != "POST":
            return Reply(405, okta_error("E0000022"))
        try:
            reply = self._grant(url, content_type, dpop, body)
        except _Refused as refused:
            reply = refused.reply
        self._count(reply)
        return reply

    def _grant(self, url: str, content_type: str, dpop: str | None, body: bytes) -> Reply:
        now = self._clock()
        if content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
            raise _refuse(400, "invalid_request", "The request must be form-urlencoded.")
        form = _form(body)
        if form.get("grant_type") != "client_credentials":
            raise _refuse(
                400, "unsupported_grant_type", "The grant type must be client_credentials."
            )
        client = self._authenticate(form, url, now)
        jkt = self._token_request_proof(dpop, url, now)
        scopes = _granted(form.get("scope", ""), client)
        return self._issue(client, scopes, jkt, url, now)

    def _authenticate(self, form: dict[str, str], token_url: str, now: float) -> _Client:
        assertion = form.get("client_assertion")
        if form.get("client_assertion_type") != ASSERTION_TYPE or not assertion:
            raise _invalid_client(
                "Client authentication failed. Either the client or the client credentials "
                "are invalid."
            )
        try:
            header = jwt.get_unverified_header(assertion)
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise _invalid_client("The client_assertion is not a valid JWT.") from None
        client_id = unverified.get("sub")
        client = self._clients.get(client_id) if isinstance(client_id, str) else None
        if client is None or form.get("client_id", client_id) != client_id:
            raise _invalid_client("Invalid value for 'client_id' parameter.")
        if client.disabled:
            raise _invalid_client("client is disabled")
        claims = _verified(assertion, header, client)
        if claims.get("iss") != client_id:
            raise _invalid_client(
                "The issuer and subject claims of the client_assertion must be the client_id."
            )
        audience = claims.get("aud")
        if audience != token_url and not (isinstance(audience, list) and token_url in audience):
            raise _invalid_client(
                "The audience claim for client_assertion must be the endpoint invoking the "
                "client_assertion."
            )
        expires = _number(claims, "exp")
        if expires is None:
            raise _invalid_client("The client_assertion token must have an exp claim.")
        if expires <= now - CLOCK_SKEW:
            raise _invalid_client("The client_assertion token is expired.")
        if expires > now + ASSERTION_MAX_LIFETIME + CLOCK_SKEW:
            raise _invalid_client(
                "The client_assertion token has an expiration too far into the future."
            )
        issued = _number(claims, "iat")
        if issued is not None and issued > now + CLOCK_SKEW:
            raise _invalid_client("The client_assertion token has an issued at time in the future.")
        jti = claims.get("jti")
        if jti is not None and not _spend(
            self._lock, self._spent_assertions, str(jti), now, expires + CLOCK_SKEW
        ):
            raise _invalid_client("The client_assertion token has already been used.")
        return client

    def _token_request_proof(self, dpop: str | None, url: str, now: float) -> str | None:
        """The DPoP key thumbprint the token will be bound to, or None for a Bearer token."""
        if dpop is None:
            if self._config.require_dpop:
                raise _refuse(400, "invalid_dpop_proof", "The DPoP proof JWT header is missing.")
            return None
        proof = self._check_proof(dpop, "POST", url, now)
        if proof.nonce is None or not self._nonce_accepted(proof.nonce, now):
            raise _refuse(
                400,
                "use_dpop_nonce",
                "Authorization server requires nonce in DPoP proof.",
                {"DPoP-Nonce": self.current_nonce()},
            )
        return proof.jkt

    def _issue(
        self, client: _Client, scopes: tuple[str, ...], jkt: str | None, url: str, now: float
    ) -> Reply:
        lifetime = self._config.token_lifetime
        parts = urlsplit(url)
        org = f"{parts.scheme}://{parts.netloc}"
        claims: dict[str, Any] = {
            "ver": 1,
            "jti": "AT." + secrets.token_urlsafe(24),
            "iss": org,
            "aud": org,
            "iat": int(now),
            "exp": now + lifetime,
            "cid": client.client_id,
            "sub": client.client_id,
            "scp": list(scopes),
        }
        headers = {"Cache-Control": "no-store", "Pragma": "no-cache"}
        if jkt is not None:
            claims["cnf"] = {"jkt": jkt}
            headers["DPoP-Nonce"] = self.current_nonce()
        body = {
            "token_type": "DPoP" if jkt is not None else "Bearer",
            "expires_in": math.ceil(lifetime),
            "access_token": self._sign(claims),
            "scope": " ".join(scopes),
        }
        return Reply(200, body, headers=headers)

    def _sign(self, claims: dict[str, Any]) -> str:
        with self._lock:
            secret = self._secret
        return jwt.encode(claims, secret, algorithm="HS256")

    # -- tokens on the risk endpoint ------------------------------------------------------

    def check_access(
        self, *, scheme: str, token: str, method: str, url: str, dpop: str | None
    ) -> Access | Reply:
        """Whether `Authorization: <scheme> <token>` (and the DPoP proof) let a request in."""
        now = self._clock()
        dpop_scheme = scheme.lower() == "dpop"
        name = "DPoP" if dpop_scheme else "Bearer"
        with self._lock:
            secret = self._secret
        try:
            claims = jwt.decode(token, secret, algorithms=["HS256"], options=_SIGNATURE_ONLY)
        except jwt.PyJWTError:
            return _invalid_token(name, "The access token is invalid.")
        if float(claims.get("exp", 0)) <= now:
            return _invalid_token(name, "The access token is expired.")
        confirmation = claims.get("cnf")
        jkt = confirmation.get("jkt") if isinstance(confirmation, dict) else None
        headers: dict[str, str] = {}
        if dpop_scheme:
            if jkt is None:
                return _invalid_token(name, "The access token is not DPoP-bound.")
            if dpop is None:
                return _oauth_reply(400, "invalid_request", "The DPoP proof JWT header is missing.")
            try:
                proof = self._check_proof(dpop, method, url, now, access_token=token)
            except _Refused as refused:
                return refused.reply
            if proof.jkt != jkt:
                return _oauth_reply(
                    400,
                    "invalid_dpop_proof",
                    "The DPoP proof is signed by a key the access token is not bound to.",
                )
            # Okta does not require a nonce on resource requests, but one it gave must be good.
            if proof.nonce is not None and not self._nonce_accepted(proof.nonce, now):
                challenge = 'DPoP error="use_dpop_nonce"'
                return Reply(
                    401,
                    {
                        "error": "use_dpop_nonce",
                        "error_description": "Resource server requires nonce in DPoP proof.",
                    },
                    headers={"DPoP-Nonce": self.current_nonce(), "WWW-Authenticate": challenge},
                )
            headers["DPoP-Nonce"] = self.current_nonce()
        elif jkt is not None:
            return _oauth_reply(
                400,
                "invalid_request",
                "The DPoP-bound access token must use the DPoP authentication scheme.",
            )
        scopes = claims.get("scp")
        if not isinstance(scopes, list) or RISK_EVENTS_SCOPE not in scopes:
            challenge = f'{name} error="insufficient_scope", scope="{RISK_EVENTS_SCOPE}"'
            return Reply(403, okta_error("E0000006"), headers={"WWW-Authenticate": challenge})
        client_id = claims.get("cid")
        return Access(client_id if isinstance(client_id, str) else None, headers)

    # -- DPoP -----------------------------------------------------------------------------

    def current_nonce(self) -> str:
        """The nonce to hand out now; a new one every NONCE_ROTATION seconds."""
        now = self._clock()
        with self._lock:
            for nonce, issued in list(self._nonces.items()):
                if now - issued > NONCE_VALIDITY:
                    del self._nonces[nonce]
            newest = max(self._nonces.items(), key=lambda item: item[1], default=None)
            if newest is not None and now - newest[1] < NONCE_ROTATION:
                return newest[0]
            nonce = secrets.token_urlsafe(24)
            self._nonces[nonce] = now
            return nonce

    def _nonce_accepted(self, nonce: str, now: float) -> bool:
        self.current_nonce()  # rotates, and forgets nonces past their validity
        with self._lock:
            issued = self._nonces.get(nonce)
        return issued is not None and now - issued <= NONCE_VALIDITY

    def _check_proof(
        self, proof: str, method: str, url: str, now: float, *, access_token: str | None = None
    ) -> _Proof:
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
            claims = jwt.decode(proof, key, algorithms=list(algorithms), options=_SIGNATURE_ONLY)
        except jwt.PyJWTError:
            raise _bad_proof("The DPoP proof JWT signature is invalid.") from None
        if claims.get("htm") != method:
            raise _bad_proof("The DPoP proof's htm does not match the request method.")
        htu = claims.get("htu")
        if not isinstance(htu, str) or _comparable(htu) != _comparable(url):
            raise _bad_proof("The DPoP proof's htu does not match the request URL.")
        issued = _number(claims, "iat")
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
        forget_at = issued + PROOF_MAX_AGE + CLOCK_SKEW
        if not _spend(self._lock, self._spent_proofs, jti, now, forget_at):
            raise _bad_proof("DPoP proof JWT has already been used.")
        nonce = claims.get("nonce")
        return _Proof(jwk_thumbprint(jwk), nonce if isinstance(nonce, str) else None)

    def revoke_tokens(self) -> None:
        """Make every token issued so far invalid, as an admin revoking them would."""
        with self._lock:
            self._secret = secrets.token_bytes(32)

    # -- observation ----------------------------------------------------------------------

    def _count(self, reply: Reply) -> None:
        outcome = "issued" if reply.status == 200 else str(reply.status)
        if isinstance(reply.body, dict) and "error" in reply.body:
            outcome = str(reply.body["error"])
        with self._lock:
            self._tally[outcome] += 1

    def stats(self) -> dict[str, Any]:
        """Token endpoint outcomes ("issued" or the error code) and the registered clients."""
        with self._lock:
            outcomes = dict(sorted(self._tally.items()))
        return {
            "token_requests": sum(outcomes.values()),
            "outcomes": outcomes,
            "clients": sorted(self._clients),
            "require_dpop": self._config.require_dpop,
        }


def new_client(directory: Path) -> str:
    """Make a client key pair in `directory` and return a new client id for it.

    Writes `private_key.pem` (mode 0600) and `public_jwk.json`, for
    `okta-risk-output emulator --client CLIENT_ID=DIRECTORY/public_jwk.json`. Refuses to
    overwrite either file.
    """
    directory.mkdir(parents=True, exist_ok=True)
    private_path, public_path = directory / "private_key.pem", directory / "public_jwk.json"
    for path in (private_path, public_path):
        if path.exists():
            raise FileExistsError(f"{path} exists; choose an empty directory")
    key = SigningKey.generate_rsa()
    public = key.public_jwk()
    public.update(kid=jwk_thumbprint(public), alg=key.algorithm, use="sig")
    # O_EXCL: never write a key into a file someone else created (and may read).
    handle = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(handle, "wb") as out:
        out.write(key.private_pem())
    public_path.write_text(json.dumps(public, indent=2) + "\n", encoding="utf-8")
    # Okta's client ids are "0oa" and 17 letters or digits.
    return "0oa" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(17))


def _load_clients(
    registered: tuple[RegisteredClient, ...], disabled: frozenset[str]
) -> dict[str, _Client]:
    """Parse every registered JWK now, so that a bad one fails at start-up (ValueError)."""
    clients: dict[str, _Client] = {}
    for entry in registered:
        client = clients.setdefault(
            entry.client_id,
            _Client(entry.client_id, [], frozenset(), entry.client_id in disabled),
        )
        client.scopes |= entry.scopes
        for jwk in entry.keys:
            try:
                public, algorithms = public_key_from_jwk(dict(jwk))
            except ValueError as problem:
                raise ValueError(f"a key of client {entry.client_id}: {problem}") from None
            kid = jwk.get("kid") or jwk_thumbprint(dict(jwk))
            client.keys.append(_Key(str(kid), public, algorithms))
    return clients


def _verified(assertion: str, header: dict[str, Any], client: _Client) -> dict[str, Any]:
    kid = header.get("kid")
    keys = [key for key in client.keys if kid is None or key.kid == kid]
    if not keys:
        raise _invalid_client("The client_assertion's kid matches no key of the client.")
    for key in keys:
        try:
            return jwt.decode(
                assertion, key.public, algorithms=list(key.algorithms), options=_SIGNATURE_ONLY
            )
        except jwt.PyJWTError:
            continue
    raise _invalid_client("The client_assertion signature is invalid.")


def _granted(requested: str, client: _Client) -> tuple[str, ...]:
    scopes = tuple(requested.split())
    if not scopes:
        raise _refuse(400, "invalid_scope", "The 'scope' parameter must be provided.")
    missing = [scope for scope in scopes if scope not in client.scopes]
    if missing:
        raise _refuse(
            400,
            "invalid_scope",
            "The following scopes were requested, but not granted: " + " ".join(missing),
        )
    return scopes


def _spend(
    lock: threading.Lock, spent: dict[str, float], jti: str, now: float, forget_at: float
) -> bool:
    """Record `jti` as used; False when it already was. Forgets entries past their time."""
    with lock:
        for old, until in list(spent.items()):
            if until < now:
                del spent[old]
        if jti in spent:
            return False
        spent[jti] = forget_at
        return True


def _form(body: bytes) -> dict[str, str]:
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise _refuse(400, "invalid_request", "The request body is not UTF-8.") from None
    repeated = sorted(name for name, values in parsed.items() if len(values) > 1)
    if repeated:
        raise _refuse(400, "invalid_request", f"Repeated parameter: {repeated[0]}.")
    return {name: values[0] for name, values in parsed.items()}


def _comparable(url: str) -> tuple[str, str, str]:
    """Scheme, host and path, case-folded where URLs are case-insensitive (RFC 9449 4.3)."""
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower(), parts.path or "/"


def _number(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _oauth_reply(
    status: int, error: str, description: str, headers: Mapping[str, str] | None = None
) -> Reply:
    return Reply(
        status, {"error": error, "error_description": description}, headers=dict(headers or {})
    )


def _refuse(
    status: int, error: str, description: str, headers: Mapping[str, str] | None = None
) -> _Refused:
    return _Refused(_oauth_reply(status, error, description, headers))


def _invalid_client(description: str) -> _Refused:
    return _refuse(401, "invalid_client", description)


def _bad_proof(description: str) -> _Refused:
    return _refuse(400, "invalid_dpop_proof", description)


def _invalid_token(scheme: str, description: str) -> Reply:
    challenge = f'{scheme} error="invalid_token", error_description="{description}"'
    return Reply(401, okta_error("E0000011"), headers={"WWW-Authenticate": challenge})
