"""OAuth 2.0 client credentials with `private_key_jwt`, optionally DPoP-bound (RFC 9449).

Okta ties risk events to a risk provider through the OAuth client id of the service app that
sends them, so production use needs a token from the org authorization server
(`{org}/oauth2/v1/token`). `TokenClient` keeps one token: it mints one when it has none, or
when the one it has is within 5 minutes of expiry, or after `renew()` (Okta answered 401).

DPoP modes: `on` always sends a proof; `off` never does; `auto` starts without and switches
on for good when the token endpoint answers `invalid_dpop_proof`, which is what an app with
"Require DPoP" (the default for new API Services apps) answers a request without a proof.
Okta then asks for a nonce (400 `use_dpop_nonce` with a `DPoP-Nonce` header); the request
is repeated with it and a fresh client assertion, since Okta spent the first one's `jti`.

Transient failures of the token endpoint (no answer, 408, 429, 5xx) raise
`TokenEndpointUnavailable`, a `requests.RequestException`: they surface from the API call that
needed the token and are retried like any network error. Refusals raise `OAuthError`
(oauth_errors.py says what each means); the client assertion is assertion.py's.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args
from urllib.parse import urlsplit

import requests

from okta_risk_output.clock import Clock
from okta_risk_output.errors import ConfigError, ExitStatus, OAuthError
from okta_risk_output.observe.logs import log
from okta_risk_output.okta.answers import json_object, printable
from okta_risk_output.okta.assertion import ASSERTION_TYPE, client_assertion
from okta_risk_output.okta.auth import AccessToken
from okta_risk_output.okta.dpop import NONCE_HEADER, DPoPKey, NonceStore
from okta_risk_output.okta.keys import SigningKey
from okta_risk_output.okta.oauth_errors import oauth_error, refusal
from okta_risk_output.okta.secret import Secret
from okta_risk_output.okta.session import bounded_request, new_session, prepare_session
from okta_risk_output.okta.token_cache import CachedToken, TokenCacheFile

__all__ = [
    "DEFAULT_SCOPES",
    "DPoPMode",
    "OAuthSettings",
    "TokenClient",
    "TokenEndpointUnavailable",
    "token_url",
]

DPoPMode = Literal["auto", "on", "off"]
DEFAULT_SCOPES = ("okta.riskEvents.manage",)
TOKEN_PATH = "/oauth2/v1/token"  # noqa: S105 - a URL path, not a secret
RENEW_BEFORE = 300.0
"""Mint a new token this long before the current one expires (Okta's SDKs use 5 min)."""
MAX_NONCE_RETRIES = 2
"""New nonces accepted for one token request before giving up, as Okta's Python SDK does."""
DEFAULT_LIFETIME = 3600
"""Okta's fixed token lifetime, assumed when a response leaves out `expires_in`."""


_VISIBLE_ASCII = re.compile(r"[\x21-\x7e]+")


def token_url(org_url: str) -> str:
    return org_url.rstrip("/") + TOKEN_PATH


@dataclass(frozen=True)
class OAuthSettings:
    """What the token client needs; `key` is the app's registered private key."""

    org_url: str
    client_id: str
    key: SigningKey
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    dpop: DPoPMode = "auto"
    token_cache: Path | None = None
    """A file that keeps the token between runs (mode 0600); None keeps it in memory only."""
    timeout: float = 30.0

    def __post_init__(self) -> None:
        problems = []
        if urlsplit(self.org_url).scheme not in ("http", "https"):
            problems.append(f"the org URL {self.org_url!r} must start with https://")
        if not self.client_id.strip():
            problems.append("the OAuth client id is empty")
        if not self.scopes or not all(scope.strip() for scope in self.scopes):
            problems.append("the OAuth scopes must not be empty")
        if self.dpop not in get_args(DPoPMode):
            problems.append(f"the DPoP mode must be auto, on or off, not {self.dpop!r}")
        if problems:
            raise ConfigError(problems)


class TokenEndpointUnavailable(requests.RequestException):
    """The token endpoint gave no usable answer for now (no answer, 408, 429, 5xx).

    A RequestException so that it is retried like the network error of the API call that
    needed the token.
    """


class TokenClient:
    """The current access token for one service app, and DPoP proofs for it. Thread-safe.

    The `auth.TokenSource` that an `auth.OAuthAuth` asks for the token of each request.
    """

    def __init__(
        self,
        settings: OAuthSettings,
        *,
        clock: Clock,
        session: requests.Session | None = None,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._session = new_session() if session is None else prepare_session(session)
        self._url = token_url(settings.org_url)
        self._timeout = (min(10.0, settings.timeout), settings.timeout)
        self._lock = threading.RLock()
        self._token: AccessToken | None = None
        self._cache = (
            None
            if settings.token_cache is None
            else TokenCacheFile(
                settings.token_cache,
                org_url=settings.org_url,
                client_id=settings.client_id,
                scopes=settings.scopes,
            )
        )
        self._cache_read = False
        self._dpop_on = settings.dpop == "on"
        self._dpop_key: DPoPKey | None = None
        self.nonces = NonceStore()
        """The latest DPoP-Nonce from any response, token endpoint or API alike."""

    @property
    def client_id(self) -> str:
        return self.settings.client_id

    @property
    def dpop_enabled(self) -> bool:
        return self._dpop_on

    def current(self) -> AccessToken:
        """A token valid for at least a few more minutes, minted now if need be."""
        with self._lock:
            if not self._cache_read:
                self._cache_read = True
                self._token = self._from_cache()
            token = self._token
            if token is None or self._clock.time() >= token.renew_at:
                token = self._token = self._mint()
                self._save(token)
            return token

    def renew(self) -> None:
        """Forget the current token (Okta refused it); the next `current()` mints one.

        Lazy on purpose: a token endpoint that is down then fails the API call that needs the
        token, which is retried like any network error.
        """
        with self._lock:
            self._cache_read = True  # the cached token may be the very one refused
            self._token = None

    def proof(self, method: str, url: str, token: AccessToken) -> str:
        """The DPoP proof for one API request made with `token`."""
        return self._dpop().proof(
            method,
            url,
            now=self._clock.time(),
            nonce=self.nonces.current(),
            access_token=token.value.reveal(),
        )

    def observe(self, response: requests.Response) -> None:
        """Keep a newer DPoP nonce from an API answer for the next proof."""
        self.nonces.observe(response)

    def close(self) -> None:
        self._session.close()

    def __repr__(self) -> str:
        return f"TokenClient(client_id={self.settings.client_id!r}, dpop={self._dpop_on})"

    # -- minting -------------------------------------------------------------------------

    def _mint(self) -> AccessToken:
        nonce_retries = 0
        while True:
            started = self._clock.time()
            sent_nonce = self.nonces.current() if self._dpop_on else None
            response = self._request(started, sent_nonce)
            self.nonces.observe(response)
            if response.status_code == 200:
                return self._accept(response, started)
            error, description = oauth_error(response)
            if error == "use_dpop_nonce" and self._dpop_on:
                fresh = response.headers.get(NONCE_HEADER)
                if fresh and fresh != sent_nonce and nonce_retries < MAX_NONCE_RETRIES:
                    nonce_retries += 1
                    continue
            elif (
                error == "invalid_dpop_proof" and not self._dpop_on and self.settings.dpop == "auto"
            ):
                log.info("the OAuth app requires DPoP-bound tokens; switching DPoP on")
                self._dpop_on = True
                continue
            raise self._refusal(response.status_code, error, description)

    def _request(self, now: float, nonce: str | None) -> requests.Response:
        settings = self.settings
        # Both set explicitly: a session shared with the API client defaults to JSON.
        headers = {
            "Accept": "application/json",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        if self._dpop_on:
            headers["DPoP"] = self._dpop().proof("POST", self._url, now=now, nonce=nonce)
        form = {
            "grant_type": "client_credentials",
            "scope": " ".join(settings.scopes),
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": client_assertion(
                settings.key, settings.client_id, self._url, now=now
            ),
        }
        try:
            # Bounded like every request (okta.bounded_request): the whole exchange within
            # the timeout, at most a small prefix of the answer read.
            return bounded_request(
                self._session,
                "POST",
                self._url,
                seconds=settings.timeout,
                data=form,
                headers=headers,
                timeout=self._timeout,
            )
        except requests.RequestException as problem:
            raise TokenEndpointUnavailable(
                f"the OAuth token endpoint {self._url} did not answer ({type(problem).__name__})"
            ) from problem

    def _accept(self, response: requests.Response, started: float) -> AccessToken:
        body = json_object(response)
        value = body.get("access_token")
        if not isinstance(value, str) or not value:
            raise OAuthError(
                f"the OAuth token endpoint {self._url} answered 200 without an access token",
                ExitStatus.UNEXPECTED,
                200,
            )
        if not _VISIBLE_ASCII.fullmatch(value):
            # It goes in a header, where http.client's error would quote it: refuse it here.
            raise OAuthError(
                f"the OAuth token endpoint {self._url} issued an access token with characters "
                "other than visible ASCII, which no HTTP header can carry",
                ExitStatus.UNEXPECTED,
                200,
            )
        kind = str(body.get("token_type", "")).lower()
        scheme: Literal["Bearer", "DPoP"]
        if kind == "dpop" and self._dpop_on:
            scheme = "DPoP"
        elif kind == "bearer":
            scheme = "Bearer"
            if self._dpop_on:
                log.warning(
                    "asked for a DPoP-bound token but Okta issued a Bearer token; DPoP is not "
                    "enabled on the app %s",
                    self.settings.client_id,
                )
        else:
            raise OAuthError(
                f"the OAuth token endpoint {self._url} issued a token of unknown type "
                f"{printable(kind, 300)!r}",
                ExitStatus.UNEXPECTED,
                200,
            )
        lifetime = body.get("expires_in")
        if isinstance(lifetime, bool) or not isinstance(lifetime, (int, float)) or lifetime <= 0:
            lifetime = DEFAULT_LIFETIME
        scope = body.get("scope")
        scopes = tuple(scope.split()) if isinstance(scope, str) else self.settings.scopes
        # Renew 5 min early, or halfway through a token that lives less than 10 min.
        margin = min(RENEW_BEFORE, lifetime / 2)
        log.info(
            "got an OAuth %s access token for client %s, valid for %d s",
            scheme,
            self.settings.client_id,
            lifetime,
        )
        return AccessToken(
            Secret(value), scheme, started + lifetime, started + lifetime - margin, scopes
        )

    def _refusal(self, status: int, error: str | None, description: str | None) -> Exception:
        if status in (408, 429) or status >= 500:
            return TokenEndpointUnavailable(
                f"the OAuth token endpoint {self._url} answered HTTP {status}"
            )
        return refusal(
            self._url,
            status,
            error,
            description,
            client_id=self.settings.client_id,
            dpop_off=self.settings.dpop == "off",
        )

    # -- DPoP key and cache --------------------------------------------------------------

    def _dpop(self) -> DPoPKey:
        with self._lock:
            if self._dpop_key is None:
                self._dpop_key = DPoPKey.generate()
            return self._dpop_key

    def _from_cache(self) -> AccessToken | None:
        """The cached token when it is still fresh. A cached DPoP token also says the app
        wants DPoP, which spares `auto` a refused request even when the token is stale."""
        if self._cache is None:
            return None
        cached = self._cache.load()
        if cached is None:
            return None
        mode = self.settings.dpop
        if (cached.scheme == "DPoP" and mode == "off") or (
            cached.scheme == "Bearer" and mode == "on"
        ):
            return None  # minted under another DPoP setting
        if cached.dpop_key is not None and cached.scheme == "DPoP":
            try:
                self._dpop_key = DPoPKey.from_private_jwk(cached.dpop_key)
            except Exception:  # noqa: BLE001 - a bad cache is a WARN, never fatal
                # Not ConfigError alone: a damaged JWK can fail deep in cryptography too.
                log.warning(
                    "ignoring the token cache %s: its DPoP key is unusable", self._cache.path
                )
                return None
            self._dpop_on = True
            self.nonces.update(cached.dpop_nonce)
        if self._clock.time() >= cached.renew_at:
            return None
        log.info("reusing the OAuth access token cached in %s", self._cache.path)
        return AccessToken(
            cached.access_token, cached.scheme, cached.expires_at, cached.renew_at, cached.scopes
        )

    def _save(self, token: AccessToken) -> None:
        if self._cache is None:
            return
        dpop_key = self._dpop_key if token.dpop_bound else None
        self._cache.save(
            CachedToken(
                access_token=token.value,
                scheme=token.scheme,
                expires_at=token.expires_at,
                renew_at=token.renew_at,
                scopes=token.scopes,
                dpop_key=None if dpop_key is None else dpop_key.private_jwk(),
                dpop_nonce=self.nonces.current() if dpop_key is not None else None,
            )
        )
