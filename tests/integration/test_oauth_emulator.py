"""The whole OAuth 2.0 + DPoP exchange against the emulator, over real loopback HTTP.

Client and emulator share one fake clock (the emulator reads its wall time), so token
lifetimes, nonce rotation and proof ages are crossed by moving it; no test sleeps.
"""

from __future__ import annotations

import json
import logging
import re
import selectors
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests

from okta_risk_output.clock import SystemClock
from okta_risk_output.emulator import ENDPOINT, Emulator, EmulatorConfig, RegisteredClient
from okta_risk_output.errors import ExitStatus, OAuthError
from okta_risk_output.observe.logs import log
from okta_risk_output.okta.assertion import ASSERTION_TYPE, client_assertion
from okta_risk_output.okta.auth import OAuthAuth, SswsAuth
from okta_risk_output.okta.keys import SigningKey, jwk_thumbprint, read_private_key_file
from okta_risk_output.okta.oauth import (
    DPoPMode,
    OAuthSettings,
    TokenClient,
    TokenEndpointUnavailable,
)
from okta_risk_output.okta.secret import Secret
from tests.support import FakeClock

CLIENT_ID = "0oa1riskprovider17"
EVENT = {"subjects": [{"ip": "203.0.113.7", "riskLevel": "HIGH", "message": "brute force"}]}
HTTP_TIMEOUT = 5.0
HOUR = 3600.0


@pytest.fixture(scope="module")
def client_key() -> SigningKey:
    return SigningKey.generate_rsa()


def registered(key: SigningKey, client_id: str = CLIENT_ID, **options: Any) -> RegisteredClient:
    jwk = key.public_jwk() | {"kid": jwk_thumbprint(key.public_jwk())}
    return RegisteredClient(client_id, (jwk,), **options)


Start = Callable[..., Emulator]


@pytest.fixture
def start(clock: FakeClock, client_key: SigningKey) -> Iterator[Start]:
    """An emulator on the shared fake clock, with CLIENT_ID registered unless told otherwise."""
    running: list[Emulator] = []

    def _start(**options: Any) -> Emulator:
        options.setdefault("clients", (registered(client_key),))
        emulator = Emulator(EmulatorConfig(**options), clock=clock.time)
        running.append(emulator.start())
        return emulator

    yield _start
    for emulator in running:
        emulator.stop()


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@pytest.fixture
def logged() -> Iterator[list[str]]:
    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(f"{record.levelname} {record.getMessage()}")

    handler, level = Keep(), log.level
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    yield lines
    log.removeHandler(handler)
    log.setLevel(level)


def token_client(
    emulator: Emulator,
    clock: FakeClock,
    key: SigningKey,
    *,
    dpop: DPoPMode = "auto",
    client_id: str = CLIENT_ID,
    token_cache: Path | None = None,
) -> TokenClient:
    settings = OAuthSettings(
        org_url=emulator.url,
        client_id=client_id,
        key=key,
        dpop=dpop,
        token_cache=token_cache,
        timeout=HTTP_TIMEOUT,
    )
    return TokenClient(settings, clock=clock)


def send(session: requests.Session, emulator: Emulator, auth: Any) -> requests.Response:
    """POST one event the way OktaClient does: the auth object sets the headers."""
    return session.post(
        emulator.url + ENDPOINT,
        data=json.dumps([EVENT]).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        auth=auth,
        timeout=HTTP_TIMEOUT,
        allow_redirects=False,
    )


def outcomes(emulator: Emulator) -> dict[str, int]:
    return dict(emulator.oauth.stats()["outcomes"])


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


# The exchange


def test_bearer_token_without_dpop(
    start: Start, clock: FakeClock, client_key: SigningKey, session: requests.Session
) -> None:
    emulator = start()
    auth = OAuthAuth(token_client(emulator, clock, client_key))

    response = send(session, emulator, auth)

    assert response.status_code == 202
    assert response.request.headers["Authorization"].startswith("Bearer ")
    assert "DPoP" not in response.request.headers
    assert outcomes(emulator) == {"issued": 1}
    [recorded] = emulator.state.requests()
    assert recorded["client_id"] == CLIENT_ID, "events are attributed to the OAuth client"
    assert recorded["events"] == [EVENT]


def test_the_token_client_may_share_the_api_clients_json_session(
    start: Start, clock: FakeClock, client_key: SigningKey, session: requests.Session
) -> None:
    emulator = start(require_dpop=True)
    session.headers.update({"Content-Type": "application/json", "Accept": "application/json"})
    settings = OAuthSettings(org_url=emulator.url, client_id=CLIENT_ID, key=client_key)
    tokens = TokenClient(settings, clock=clock, session=session)

    assert send(session, emulator, OAuthAuth(tokens)).status_code == 202


def test_auto_switches_to_dpop_when_the_app_requires_it(
    start: Start, clock: FakeClock, client_key: SigningKey, session: requests.Session
) -> None:
    emulator = start(require_dpop=True)
    tokens = token_client(emulator, clock, client_key, dpop="auto")

    response = send(session, emulator, OAuthAuth(tokens))

    assert response.status_code == 202
    # Without a proof, then with a proof but no nonce, then with the nonce.
    assert outcomes(emulator) == {"invalid_dpop_proof": 1, "use_dpop_nonce": 1, "issued": 1}
    assert tokens.dpop_enabled
    scheme, _, access_token = response.request.headers["Authorization"].partition(" ")
    assert scheme == "DPoP"
    proof = response.request.headers["DPoP"]
    proof_header, proof_claims = jwt.get_unverified_header(proof), claims_of(proof)
    assert proof_header["typ"] == "dpop+jwt"
    assert claims_of(access_token)["cnf"] == {"jkt": jwk_thumbprint(proof_header["jwk"])}
    assert proof_claims["htm"] == "POST"
    assert proof_claims["htu"] == emulator.url + ENDPOINT
    assert proof_claims["nonce"] == emulator.oauth.current_nonce()
    assert proof_claims["ath"]
    assert emulator.state.requests()[0]["client_id"] == CLIENT_ID


def test_dpop_on_sends_a_proof_from_the_first_request(
    start: Start, clock: FakeClock, client_key: SigningKey, session: requests.Session
) -> None:
    emulator = start()  # the app does not require DPoP, but accepts it

    response = send(
        session, emulator, OAuthAuth(token_client(emulator, clock, client_key, dpop="on"))
    )

    assert response.status_code == 202
    assert outcomes(emulator) == {"use_dpop_nonce": 1, "issued": 1}
    assert response.request.headers["Authorization"].startswith("DPoP ")


def test_dpop_off_against_an_app_that_requires_it_is_fatal_and_says_so(
    start: Start, clock: FakeClock, client_key: SigningKey, session: requests.Session
) -> None:
    emulator = start(require_dpop=True)

    with pytest.raises(OAuthError) as caught:
        send(session, emulator, OAuthAuth(token_client(emulator, clock, client_key, dpop="off")))

    assert caught.value.exit_status is ExitStatus.AUTH_FAILED
    assert caught.value.error == "invalid_dpop_proof"
    assert "use --dpop auto or --dpop on" in str(caught.value)


def test_a_query_string_is_not_part_of_the_proofs_htu(
    start: Start, clock: FakeClock, client_key: SigningKey, session: requests.Session
) -> None:
    emulator = start(require_dpop=True)
    auth = OAuthAuth(token_client(emulator, clock, client_key))

    response = session.post(
        emulator.url + ENDPOINT + "?trace=1", json=[EVENT], auth=auth, timeout=HTTP_TIMEOUT
    )

    assert response.status_code == 202
    assert claims_of(response.request.headers["DPoP"])["htu"] == emulator.url + ENDPOINT


# Renewal


@pytest.mark.parametrize("dpop", ["off", "on"])
def test_token_is_reused_then_renewed_five_minutes_before_expiry(
    start: Start,
    clock: FakeClock,
    client_key: SigningKey,
    session: requests.Session,
    dpop: DPoPMode,
) -> None:
    emulator = start()
    auth = OAuthAuth(token_client(emulator, clock, client_key, dpop=dpop))

    first = send(session, emulator, auth)
    clock.advance(HOUR - 301)
    second = send(session, emulator, auth)
    clock.advance(2)  # now 4 min 59 s before expiry
    third = send(session, emulator, auth)

    assert [r.status_code for r in (first, second, third)] == [202, 202, 202]
    assert outcomes(emulator)["issued"] == 2
    tokens = [r.request.headers["Authorization"] for r in (first, second, third)]
    assert tokens[0] == tokens[1] != tokens[2]


def test_a_401_renews_the_token_and_the_retry_succeeds(
    start: Start, clock: FakeClock, client_key: SigningKey, session: requests.Session
) -> None:
    emulator = start(require_dpop=True)
    auth = OAuthAuth(token_client(emulator, clock, client_key))
    assert send(session, emulator, auth).status_code == 202
    revoked = requests.post(emulator.url + "/_emulator/revoke-tokens", timeout=HTTP_TIMEOUT)
    assert revoked.status_code == 200

    refused = send(session, emulator, auth)
    assert refused.status_code == 401
    assert refused.json()["errorCode"] == "E0000011"
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]

    auth.renew()
    assert send(session, emulator, auth).status_code == 202
    assert outcomes(emulator)["issued"] == 2
    assert auth.renewable and not SswsAuth(Secret("t")).renewable


# Nonces


def test_nonce_rotation_and_expiry(
    start: Start, clock: FakeClock, client_key: SigningKey, session: requests.Session
) -> None:
    emulator = start(require_dpop=True)
    tokens = token_client(emulator, clock, client_key, dpop="on")
    auth = OAuthAuth(tokens)
    assert send(session, emulator, auth).status_code == 202
    first_nonce = tokens.nonces.current()
    assert first_nonce == emulator.oauth.current_nonce()

    # A day later the org hands out a new nonce; the old one still works for the token
    # request, and the new one, from the token response, is used from then on.
    clock.advance(25 * HOUR)
    response = send(session, emulator, auth)
    assert response.status_code == 202
    second_nonce = emulator.oauth.current_nonce()
    assert second_nonce != first_nonce
    assert claims_of(response.request.headers["DPoP"])["nonce"] == second_nonce
    assert outcomes(emulator) == {"use_dpop_nonce": 1, "issued": 2}

    # Four days later the held nonce is too old: the org asks for a new one, once.
    clock.advance(4 * 24 * HOUR)
    assert send(session, emulator, auth).status_code == 202
    assert outcomes(emulator) == {"use_dpop_nonce": 2, "issued": 3}
    assert tokens.nonces.current() == emulator.oauth.current_nonce() != second_nonce


def test_a_nonce_from_an_api_response_replaces_the_stored_one(
    start: Start, clock: FakeClock, client_key: SigningKey, session: requests.Session
) -> None:
    emulator = start(require_dpop=True)
    tokens = token_client(emulator, clock, client_key)
    auth = OAuthAuth(tokens)
    assert send(session, emulator, auth).status_code == 202
    tokens.nonces.update("a-nonce-the-org-never-gave")

    refused = send(session, emulator, auth)

    assert refused.status_code == 401
    assert refused.json()["error"] == "use_dpop_nonce"
    assert tokens.nonces.current() == refused.headers["DPoP-Nonce"]
    assert send(session, emulator, auth).status_code == 202


# Refusals


def test_a_replayed_client_assertion_is_refused(
    start: Start, clock: FakeClock, client_key: SigningKey
) -> None:
    emulator = start()
    url = emulator.url + "/oauth2/v1/token"
    form = {
        "grant_type": "client_credentials",
        "scope": "okta.riskEvents.manage",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": client_assertion(client_key, CLIENT_ID, url, now=clock.time()),
    }

    first = requests.post(url, data=form, timeout=HTTP_TIMEOUT)
    second = requests.post(url, data=form, timeout=HTTP_TIMEOUT)

    assert first.status_code == 200
    assert first.json()["token_type"] == "Bearer"
    assert first.headers["Cache-Control"] == "no-store"
    assert second.status_code == 401
    assert second.json() == {
        "error": "invalid_client",
        "error_description": "The client_assertion token has already been used.",
    }


def test_a_replayed_dpop_proof_is_refused(
    start: Start, clock: FakeClock, client_key: SigningKey, session: requests.Session
) -> None:
    emulator = start(require_dpop=True)
    response = send(session, emulator, OAuthAuth(token_client(emulator, clock, client_key)))
    assert response.status_code == 202

    replay = session.send(response.request, timeout=HTTP_TIMEOUT)

    assert replay.status_code == 400
    assert replay.json() == {
        "error": "invalid_dpop_proof",
        "error_description": "DPoP proof JWT has already been used.",
    }
    assert len(emulator.state.requests()) == 1


@pytest.mark.parametrize(
    ("claims", "description"),
    [
        ({"aud": "https://elsewhere.example.com/oauth2/v1/token"}, "The audience claim"),
        ({"exp": 2 * HOUR}, "expiration too far into the future"),
        ({"exp": -120.0}, "is expired"),
        ({"iat": 600.0}, "issued at time in the future"),
        ({"iss": "0oaSomeoneElse"}, "must be the client_id"),
    ],
    ids=["aud", "exp-too-far", "expired", "iat-future", "iss"],
)
def test_assertion_claims_are_checked(
    start: Start, clock: FakeClock, client_key: SigningKey, claims: dict[str, Any], description: str
) -> None:
    emulator = start()
    url = emulator.url + "/oauth2/v1/token"
    now = clock.time()
    base = {
        "iss": CLIENT_ID,
        "sub": CLIENT_ID,
        "aud": url,
        "iat": now,
        "exp": now + 300,
        "jti": "j",
    }
    changed = {k: (v + now if k in ("exp", "iat") else v) for k, v in claims.items()}
    form = {
        "grant_type": "client_credentials",
        "scope": "okta.riskEvents.manage",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": client_key.sign(base | changed),
    }

    response = requests.post(url, data=form, timeout=HTTP_TIMEOUT)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert description in response.json()["error_description"]


def test_wrong_key_missing_scope_and_disabled_client_each_fail_clearly(
    start: Start, clock: FakeClock, client_key: SigningKey, session: requests.Session
) -> None:
    emulator = start(
        clients=(
            registered(client_key),
            registered(client_key, "0oaNoRiskScope", scopes=frozenset({"okta.users.read"})),
            registered(client_key, "0oaDeactivated"),
        ),
        disabled_clients=frozenset({"0oaDeactivated"}),
    )

    def failure(client_id: str, key: SigningKey) -> OAuthError:
        auth = OAuthAuth(token_client(emulator, clock, key, client_id=client_id))
        with pytest.raises(OAuthError) as caught:
            send(session, emulator, auth)
        return caught.value

    wrong_key = failure(CLIENT_ID, SigningKey.generate_rsa())
    no_scope = failure("0oaNoRiskScope", client_key)
    disabled = failure("0oaDeactivated", client_key)

    assert (wrong_key.error, wrong_key.exit_status, wrong_key.status_code) == (
        "invalid_client",
        ExitStatus.AUTH_FAILED,
        401,
    )
    assert "The client_assertion signature is invalid" in str(wrong_key)
    assert "private key" in str(wrong_key)
    assert (no_scope.error, no_scope.exit_status) == ("invalid_scope", ExitStatus.PERMISSION_DENIED)
    assert "requested, but not granted: okta.riskEvents.manage" in str(no_scope)
    assert "Okta API Scopes" in str(no_scope)
    assert (disabled.error, disabled.exit_status) == ("invalid_client", ExitStatus.AUTH_FAILED)
    assert "client is disabled" in str(disabled)
    assert len({str(wrong_key), str(no_scope), str(disabled)}) == 3
    assert CLIENT_ID in str(wrong_key)
    assert emulator.state.requests() == []


def test_an_unknown_client_is_refused(
    start: Start, clock: FakeClock, client_key: SigningKey, session: requests.Session
) -> None:
    emulator = start()
    with pytest.raises(OAuthError, match="Invalid value for 'client_id' parameter"):
        send(
            session,
            emulator,
            OAuthAuth(token_client(emulator, clock, client_key, client_id="0oaX")),
        )


def test_a_wrong_org_url_is_an_endpoint_error(
    start: Start, clock: FakeClock, client_key: SigningKey
) -> None:
    emulator = start()
    settings = OAuthSettings(org_url=emulator.url + "/typo", client_id=CLIENT_ID, key=client_key)

    with pytest.raises(OAuthError) as caught:
        TokenClient(settings, clock=clock).current()

    assert caught.value.exit_status is ExitStatus.ENDPOINT_MISSING
    assert "check --org-url" in str(caught.value)


def test_an_unavailable_token_endpoint_is_a_retryable_request_error(
    start: Start, clock: FakeClock, client_key: SigningKey, session: requests.Session
) -> None:
    emulator = start(outage_for=60.0)
    auth = OAuthAuth(token_client(emulator, clock, client_key))

    with pytest.raises(requests.RequestException) as caught:
        send(session, emulator, auth)

    assert isinstance(caught.value, TokenEndpointUnavailable)
    assert "answered HTTP 503" in str(caught.value)
    clock.advance(61)
    assert send(session, emulator, auth).status_code == 202


def test_a_dpop_bound_token_sent_as_bearer_is_refused(
    start: Start, clock: FakeClock, client_key: SigningKey, session: requests.Session
) -> None:
    emulator = start(require_dpop=True)
    tokens = token_client(emulator, clock, client_key)
    token = tokens.current()

    response = session.post(
        emulator.url + ENDPOINT,
        json=[EVENT],
        headers={"Authorization": f"Bearer {token.value.reveal()}"},
        timeout=HTTP_TIMEOUT,
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert "must use the DPoP authentication scheme" in response.json()["error_description"]


def test_a_token_without_the_risk_scope_is_forbidden(
    start: Start, clock: FakeClock, client_key: SigningKey, session: requests.Session
) -> None:
    scopes = frozenset({"okta.riskEvents.manage", "okta.users.read"})
    emulator = start(clients=(registered(client_key, scopes=scopes),))
    settings = OAuthSettings(
        org_url=emulator.url, client_id=CLIENT_ID, key=client_key, scopes=("okta.users.read",)
    )

    response = send(session, emulator, OAuthAuth(TokenClient(settings, clock=clock)))

    assert response.status_code == 403
    assert response.json()["errorCode"] == "E0000006"


def test_ssws_needs_the_api_token_once_oauth_clients_are_registered(
    start: Start, session: requests.Session
) -> None:
    open_org = start()
    with_token = start(api_token="t0k")

    assert send(session, open_org, SswsAuth(Secret("anything"))).status_code == 401
    assert send(session, with_token, SswsAuth(Secret("anything"))).status_code == 401
    assert send(session, with_token, SswsAuth(Secret("t0k"))).status_code == 202
    assert "client_id" not in with_token.state.requests()[0]


# The token cache and secrets


def test_a_cached_dpop_token_is_reused_by_the_next_run(
    start: Start,
    clock: FakeClock,
    client_key: SigningKey,
    session: requests.Session,
    tmp_path: Path,
) -> None:
    emulator = start(require_dpop=True)
    cache = tmp_path / "token.json"
    first_run = token_client(emulator, clock, client_key, token_cache=cache)
    assert send(session, emulator, OAuthAuth(first_run)).status_code == 202
    assert cache.stat().st_mode & 0o777 == 0o600

    clock.advance(600)
    second_run = token_client(emulator, clock, client_key, token_cache=cache)
    response = send(session, emulator, OAuthAuth(second_run))

    assert response.status_code == 202
    assert outcomes(emulator)["issued"] == 1, "the second run minted no token"
    assert second_run.dpop_enabled

    # Once the cached token is due for renewal, the next run mints one, and knows from the
    # cache that the app wants DPoP: no request goes out without a proof.
    clock.advance(HOUR)
    third_run = token_client(emulator, clock, client_key, token_cache=cache)
    assert send(session, emulator, OAuthAuth(third_run)).status_code == 202
    assert outcomes(emulator) == {"invalid_dpop_proof": 1, "use_dpop_nonce": 1, "issued": 2}


def test_no_secret_reaches_a_log_line_or_an_error(
    start: Start,
    clock: FakeClock,
    client_key: SigningKey,
    session: requests.Session,
    tmp_path: Path,
    logged: list[str],
) -> None:
    emulator = start(require_dpop=True, clients=(registered(client_key),))
    tokens = token_client(emulator, clock, client_key, token_cache=tmp_path / "token.json")
    response = send(session, emulator, OAuthAuth(tokens))
    assert response.status_code == 202
    with pytest.raises(OAuthError) as caught:
        tokens_for_wrong_key = token_client(emulator, clock, SigningKey.generate_rsa())
        tokens_for_wrong_key.current()

    access_token = response.request.headers["Authorization"].split(" ", 1)[1]
    secrets = [
        access_token,
        response.request.headers["DPoP"],
        client_key.private_pem().decode().splitlines()[1],
        json.dumps(tokens._dpop().private_jwk()["d"]),
    ]
    texts = [*logged, str(caught.value), repr(caught.value), repr(tokens)]
    assert logged, "the exchange logs what it does"
    assert not [text for text in texts if any(secret in text for secret in secrets)]


# The command


def test_new_client_and_client_options_of_the_command(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "okta_risk_output", "emulator"]
    made = subprocess.run(
        [*command, "--new-client", str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert made.returncode == 0, made.stderr
    client_id = made.stdout.strip()
    assert re.fullmatch(r"0oa[A-Za-z0-9]{17}", client_id)
    assert (tmp_path / "private_key.pem").stat().st_mode & 0o777 == 0o600
    again = subprocess.run(
        [*command, "--new-client", str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert again.returncode == 2
    assert "exists" in again.stderr

    process = subprocess.Popen(
        [
            *command,
            "--client",
            f"{client_id}={tmp_path / 'public_jwk.json'}",
            "--require-dpop",
            "--token-lifetime",
            "10m",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = _read_line(process, timeout=60).strip()
        key = read_private_key_file(tmp_path / "private_key.pem")
        settings = OAuthSettings(org_url=url, client_id=client_id, key=key)
        tokens = TokenClient(settings, clock=SystemClock())
        with requests.Session() as session:
            response = session.post(
                url + ENDPOINT, json=[EVENT], auth=OAuthAuth(tokens), timeout=HTTP_TIMEOUT
            )
        assert response.status_code == 202
        token = tokens.current()
        assert token.scheme == "DPoP"
        assert 590 <= token.expires_at - SystemClock().time() <= 600
        oauth_stats = requests.get(url + "/_emulator/oauth", timeout=HTTP_TIMEOUT).json()
        assert oauth_stats["clients"] == [client_id]
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=20)
    assert "OAuth clients " + client_id in stderr
    assert "DPoP required" in stderr


def _read_line(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise AssertionError(f"no line on stdout within {timeout} s")
    return process.stdout.readline()
