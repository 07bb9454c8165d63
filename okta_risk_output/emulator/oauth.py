"""The emulator's OAuth 2.0 authorization server, as Okta's org server behaves for API Services
apps: `POST /oauth2/v1/token` with client credentials and `private_key_jwt`, optionally DPoP
(RFC 9449, checked in dpop.py), and the check of the tokens it issued when they come back on
the risk endpoint.

Token endpoint errors are RFC 6749 bodies, `{"error", "error_description"}`, with Okta's codes.
Like Okta, it spends a client assertion's `jti` as soon as the assertion is verified, even when
the request then fails on DPoP; that is why a client must sign a new assertion for its retry
with a nonce. Access tokens are JWTs signed with a key only this process knows.

PyJWT and cryptography load with this module, so only `Emulator()` imports it, when built.
"""

from __future__ import annotations

import math
import secrets
import threading
from collections import Counter
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt

from okta_risk_output.emulator.claims import CLOCK_SKEW, SIGNATURE_ONLY, SpentIds, number
from okta_risk_output.emulator.clients import Client, load_clients
from okta_risk_output.emulator.config import RISK_EVENTS_SCOPE, Clock, EmulatorConfig
from okta_risk_output.emulator.dpop import Nonces, ProofChecker
from okta_risk_output.emulator.messages import (
    Access,
    Refused,
    Reply,
    Request,
    oauth_error,
    okta_error,
)

__all__ = ["ASSERTION_MAX_LIFETIME", "ASSERTION_TYPE", "AuthorizationServer"]

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_MAX_LIFETIME = 3600.0
"""A client assertion may not expire more than 1 h ahead."""


class AuthorizationServer:
    """Registered clients, issued tokens, spent `jti`s and DPoP nonces. Thread-safe."""

    def __init__(self, config: EmulatorConfig, clock: Clock) -> None:
        self._config = config
        self._clock = clock
        self._clients = load_clients(config.clients, config.disabled_clients)
        self._lock = threading.Lock()
        self._secret = secrets.token_bytes(32)
        self._spent_assertions = SpentIds()
        self._nonces = Nonces(clock)
        self._proofs = ProofChecker()
        self._tally: Counter[str] = Counter()

    # -- the token endpoint ---------------------------------------------------------------

    def token(self, request: Request) -> Reply:
        """The answer of `POST /oauth2/v1/token` at `request.url`."""
        if request.method != "POST":
            return Reply(405, okta_error("E0000022"))
        try:
            reply = self._grant(request)
        except Refused as refused:
            reply = refused.reply
        self._count(reply)
        return reply

    def _grant(self, request: Request) -> Reply:
        now = self._clock()
        content_type = request.content_type.split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            raise _refuse(400, "invalid_request", "The request must be form-urlencoded.")
        form = _form(request.body)
        if form.get("grant_type") != "client_credentials":
            raise _refuse(
                400, "unsupported_grant_type", "The grant type must be client_credentials."
            )
        client = self._authenticate(form, request.url, now)
        jkt = self._token_request_proof(request.dpop, request.url, now)
        scopes = _granted(form.get("scope", ""), client)
        return self._issue(client, scopes, jkt, request.url, now)

    def _authenticate(self, form: dict[str, str], token_url: str, now: float) -> Client:
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
        expires = number(claims, "exp")
        if expires is None:
            raise _invalid_client("The client_assertion token must have an exp claim.")
        if expires <= now - CLOCK_SKEW:
            raise _invalid_client("The client_assertion token is expired.")
        if expires > now + ASSERTION_MAX_LIFETIME + CLOCK_SKEW:
            raise _invalid_client(
                "The client_assertion token has an expiration too far into the future."
            )
        issued = number(claims, "iat")
        if issued is not None and issued > now + CLOCK_SKEW:
            raise _invalid_client("The client_assertion token has an issued at time in the future.")
        jti = claims.get("jti")
        if jti is not None and not self._spent_assertions.spend(
            str(jti), now, expires + CLOCK_SKEW
        ):
            raise _invalid_client("The client_assertion token has already been used.")
        return client

    def _token_request_proof(self, dpop: str | None, url: str, now: float) -> str | None:
        """The DPoP key thumbprint the token will be bound to, or None for a Bearer token."""
        if dpop is None:
            if self._config.require_dpop:
                raise _refuse(400, "invalid_dpop_proof", "The DPoP proof JWT header is missing.")
            return None
        proof = self._proofs.check(dpop, "POST", url, now)
        if proof.nonce is None or not self._nonces.accepted(proof.nonce, now):
            raise _refuse(
                400,
                "use_dpop_nonce",
                "Authorization server requires nonce in DPoP proof.",
                {"DPoP-Nonce": self.current_nonce()},
            )
        return proof.jkt

    def _issue(
        self, client: Client, scopes: tuple[str, ...], jkt: str | None, url: str, now: float
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
            claims = jwt.decode(token, secret, algorithms=["HS256"], options=SIGNATURE_ONLY)
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
                return oauth_error(400, "invalid_request", "The DPoP proof JWT header is missing.")
            try:
                proof = self._proofs.check(dpop, method, url, now, access_token=token)
            except Refused as refused:
                return refused.reply
            if proof.jkt != jkt:
                return oauth_error(
                    400,
                    "invalid_dpop_proof",
                    "The DPoP proof is signed by a key the access token is not bound to.",
                )
            # Okta does not require a nonce on resource requests, but one it gave must be good.
            if proof.nonce is not None and not self._nonces.accepted(proof.nonce, now):
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
            return oauth_error(
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

    def current_nonce(self) -> str:
        """The DPoP nonce to hand out now; a new one every dpop.NONCE_ROTATION seconds."""
        return self._nonces.current()

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


def _verified(assertion: str, header: dict[str, Any], client: Client) -> dict[str, Any]:
    """The assertion's claims, once it is signed by one of the client's keys."""
    kid = header.get("kid")
    keys = [key for key in client.keys if kid is None or key.kid == kid]
    if not keys:
        raise _invalid_client("The client_assertion's kid matches no key of the client.")
    for key in keys:
        try:
            return jwt.decode(
                assertion, key.public, algorithms=list(key.algorithms), options=SIGNATURE_ONLY
            )
        except jwt.PyJWTError:
            continue
    raise _invalid_client("The client_assertion signature is invalid.")


def _granted(requested: str, client: Client) -> tuple[str, ...]:
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


def _form(body: bytes) -> dict[str, str]:
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise _refuse(400, "invalid_request", "The request body is not UTF-8.") from None
    repeated = sorted(name for name, values in parsed.items() if len(values) > 1)
    if repeated:
        raise _refuse(400, "invalid_request", f"Repeated parameter: {repeated[0]}.")
    return {name: values[0] for name, values in parsed.items()}


def _refuse(
    status: int, error: str, description: str, headers: dict[str, str] | None = None
) -> Refused:
    return Refused(oauth_error(status, error, description, headers))


def _invalid_client(description: str) -> Refused:
    return _refuse(401, "invalid_client", description)


def _invalid_token(scheme: str, description: str) -> Reply:
    challenge = f'{scheme} error="invalid_token", error_description="{description}"'
    return Reply(401, okta_error("E0000011"), headers={"WWW-Authenticate": challenge})
