"""OAuth and DPoP building blocks with a fixed clock and fixed keys: keys, client assertions,
proofs, the token cache file, and that no secret shows in a repr, log line or error."""

from __future__ import annotations

import json
import logging
import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from okta_risk_output.errors import ConfigError, ExitStatus, OAuthError
from okta_risk_output.observe.logs import log
from okta_risk_output.okta.assertion import ASSERTION_TYPE, client_assertion
from okta_risk_output.okta.auth import AccessToken, OAuthAuth, SswsAuth
from okta_risk_output.okta.dpop import DPoPKey, NonceStore, access_token_hash, htu
from okta_risk_output.okta.keys import (
    SigningKey,
    jwk_thumbprint,
    load_private_key,
    public_key_from_jwk,
    read_private_key_file,
)
from okta_risk_output.okta.oauth import OAuthSettings, TokenClient
from okta_risk_output.okta.secret import Secret
from okta_risk_output.okta.token_cache import CachedToken, TokenCacheFile

NOW = 1_800_000_000.75
CLIENT_ID = "0oa1exampleclient7"
TOKEN_URL = "https://example.okta.com/oauth2/v1/token"
# NOW is in the future of the real clock; PyJWT must not judge times against that.
_SIGNATURE_ONLY: Any = {"verify_aud": False, "verify_exp": False, "verify_iat": False}


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def rsa_pem(rsa_key: rsa.RSAPrivateKey) -> str:
    return _pem(rsa_key)


@pytest.fixture
def logged() -> Iterator[list[str]]:
    """Every line logged through okta_risk_output's logger during the test."""
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


def _pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _decode(token: str, key: SigningKey) -> dict[str, Any]:
    public, algorithms = public_key_from_jwk(key.public_jwk())
    return jwt.decode(
        token,
        public,
        algorithms=list(algorithms),
        options=_SIGNATURE_ONLY,
    )


# Keys


@pytest.mark.parametrize(
    ("curve", "algorithm"),
    [(ec.SECP256R1(), "ES256"), (ec.SECP384R1(), "ES384"), (ec.SECP521R1(), "ES512")],
)
def test_ec_key_signs_with_the_algorithm_of_its_curve(
    curve: ec.EllipticCurve, algorithm: str
) -> None:
    key = load_private_key(_pem(ec.generate_private_key(curve)))
    assert key.algorithm == algorithm


@pytest.mark.parametrize(("bits", "algorithm"), [(2048, "RS256"), (3072, "RS384"), (4096, "RS512")])
def test_rsa_key_signs_with_the_algorithm_of_its_size(bits: int, algorithm: str) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    assert load_private_key(_pem(key)).algorithm == algorithm


def test_an_explicit_algorithm_and_kid_win(rsa_pem: str) -> None:
    key = load_private_key(rsa_pem, kid="key-2", algorithm="RS512")
    assert (key.algorithm, key.kid) == ("RS512", "key-2")
    assert jwt.get_unverified_header(key.sign({"a": 1}))["kid"] == "key-2"


def test_a_private_jwk_keeps_its_kid_and_alg(rsa_key: rsa.RSAPrivateKey) -> None:
    jwk = SigningKey(rsa_key, "RS256").private_jwk() | {"kid": "from-okta", "alg": "RS384"}
    assert (
        repr(load_private_key(json.dumps(jwk))) == "SigningKey(algorithm='RS384', kid='from-okta')"
    )
    one_key_set = json.dumps({"keys": [jwk]})
    assert load_private_key(one_key_set, kid="mine").kid == "mine"


def test_a_pem_with_escaped_newlines_from_an_environment_variable_loads(rsa_pem: str) -> None:
    assert load_private_key(rsa_pem.replace("\n", "\\n")).algorithm == "RS256"


@pytest.mark.parametrize(
    ("make_text", "says"),
    [
        (lambda pem, key: "not a key", "neither a PEM private key nor a JWK"),
        (lambda pem, key: "{oops", "not valid JSON"),
        (
            lambda pem, key: (
                key.public_key()
                .public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                )
                .decode()
            ),
            "not a private key",
        ),
        (
            lambda pem, key: key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(b"passphrase"),
            ).decode(),
            "encrypted",
        ),
        (lambda pem, key: pem.replace(pem.splitlines()[3], "A" * 64), "not a readable PEM"),
        (
            lambda pem, key: json.dumps(SigningKey(key, "RS256").public_jwk()),
            "public JWK",
        ),
        (lambda pem, key: pem, "an RSA key, which signs with RS256, RS384 or RS512, not ES256"),
    ],
    ids=["garbage", "bad-json", "public-pem", "encrypted", "corrupt", "public-jwk", "wrong-alg"],
)
def test_unusable_keys_are_config_errors_that_never_quote_the_key(
    rsa_pem: str, rsa_key: rsa.RSAPrivateKey, make_text: Any, says: str
) -> None:
    text = make_text(rsa_pem, rsa_key)
    algorithm = "ES256" if says.startswith("an RSA key") else None
    with pytest.raises(ConfigError) as caught:
        load_private_key(text, source="OKTA_PRIVATE_KEY", algorithm=algorithm)
    message = str(caught.value)
    assert message.startswith("OKTA_PRIVATE_KEY ")
    assert says in message
    assert caught.value.exit_status is ExitStatus.USAGE
    assert rsa_pem.splitlines()[1] not in message


def test_an_ec_key_refuses_another_curves_algorithm() -> None:
    pem = _pem(ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(ConfigError, match="EC P-256 key, which signs with ES256 only"):
        load_private_key(pem, algorithm="ES384")


def test_a_key_file_readable_by_others_is_loaded_with_a_warning(
    tmp_path: Path, rsa_pem: str, logged: list[str]
) -> None:
    path = tmp_path / "key.pem"
    path.write_text(rsa_pem)
    path.chmod(0o600)
    read_private_key_file(path)
    assert logged == []

    path.chmod(0o640)
    assert read_private_key_file(path).algorithm == "RS256"
    assert logged == [
        f"WARNING the private key file {path} is readable by group or others (mode 640); "
        "run chmod 600 on it"
    ]


def test_a_missing_key_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read the private key file .*No such file"):
        read_private_key_file(tmp_path / "absent.pem")


def test_jwk_thumbprint_matches_rfc_7638() -> None:
    # The example of RFC 7638 section 3.1.
    jwk = {
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSo"
        "c_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0"
        "_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhA"
        "I4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    assert jwk_thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_public_key_from_jwk_refuses_a_private_jwk(rsa_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(ValueError, match="private key"):
        public_key_from_jwk(SigningKey(rsa_key, "RS256").private_jwk())


# The client assertion


def test_client_assertion_claims(rsa_key: rsa.RSAPrivateKey) -> None:
    key = SigningKey(rsa_key, "RS256", kid="kid-1")

    assertion = client_assertion(key, CLIENT_ID, TOKEN_URL, now=NOW)

    assert jwt.get_unverified_header(assertion) == {"alg": "RS256", "kid": "kid-1", "typ": "JWT"}
    claims = _decode(assertion, key)
    assert uuid.UUID(claims.pop("jti"))
    assert claims == {
        "iss": CLIENT_ID,
        "sub": CLIENT_ID,
        "aud": TOKEN_URL,
        "iat": 1_800_000_000,
        "exp": 1_800_000_300,
    }


def test_every_client_assertion_has_a_fresh_jti(rsa_key: rsa.RSAPrivateKey) -> None:
    key = SigningKey(rsa_key, "RS256")
    jtis = {
        _decode(client_assertion(key, CLIENT_ID, TOKEN_URL, now=NOW), key)["jti"] for _ in "abc"
    }
    assert len(jtis) == 3


# DPoP proofs


def test_dpop_proof_for_the_token_endpoint() -> None:
    dpop = DPoPKey(SigningKey.generate_ec())

    proof = dpop.proof("post", TOKEN_URL + "?x=1#frag", now=NOW, nonce="n-1")

    header = jwt.get_unverified_header(proof)
    assert header["typ"] == "dpop+jwt"
    assert header["alg"] == "ES256"
    assert set(header["jwk"]) == {"kty", "crv", "x", "y"}, "the public key only"
    assert jwk_thumbprint(header["jwk"]) == dpop.jkt
    public, _ = public_key_from_jwk(header["jwk"])
    claims = jwt.decode(proof, public, algorithms=["ES256"], options=_SIGNATURE_ONLY)
    assert uuid.UUID(claims.pop("jti"))
    assert claims == {"htm": "POST", "htu": TOKEN_URL, "iat": 1_800_000_000, "nonce": "n-1"}


def test_dpop_proof_for_an_api_call_carries_ath_and_fresh_jtis() -> None:
    dpop = DPoPKey.generate()
    token = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
    url = "https://example.okta.com/api/v1/risk/events/ip"

    proofs = [dpop.proof("POST", url, now=NOW, access_token=token) for _ in range(2)]

    claims = [jwt.decode(p, options={"verify_signature": False}) for p in proofs]
    # The example of RFC 9449 section 7.1.
    assert {c["ath"] for c in claims} == {"fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"}
    assert "nonce" not in claims[0]
    assert claims[0]["jti"] != claims[1]["jti"]


def test_htu_drops_query_and_fragment_only() -> None:
    assert htu("https://Org.example.com:8443/a/b?q=1#f") == "https://Org.example.com:8443/a/b"
    assert access_token_hash("abc") == "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"


def test_nonce_store_keeps_the_newest_nonce_from_any_response() -> None:
    store = NonceStore()
    for nonce in ("n1", None, "n2"):
        response = requests.Response()
        if nonce is not None:
            response.headers["dpop-nonce"] = nonce
        store.observe(response)
    assert store.current() == "n2"


# The token cache file


def _cache(path: Path, client_id: str = CLIENT_ID) -> TokenCacheFile:
    return TokenCacheFile(
        path, org_url="https://example.okta.com", client_id=client_id, scopes=("s",)
    )


def _cached(**changes: Any) -> CachedToken:
    values: dict[str, Any] = {
        "access_token": Secret("secret-access-token"),
        "scheme": "DPoP",
        "expires_at": NOW + 3600,
        "renew_at": NOW + 3300,
        "scopes": ("s",),
        "dpop_key": DPoPKey.generate().private_jwk(),
        "dpop_nonce": "n-1",
    }
    return CachedToken(**(values | changes))


def test_token_cache_round_trip_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "token.json"
    token = _cached()

    _cache(path).save(token)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert _cache(path).load() == token
    assert os.listdir(tmp_path) == ["token.json"], "no temporary file is left behind"
    assert "secret-access-token" not in repr(token)
    assert _cache(path, client_id="0oaSomeoneElse").load() is None


def test_token_cache_problems_are_warnings_that_never_quote_the_file(
    tmp_path: Path, logged: list[str]
) -> None:
    path = tmp_path / "token.json"
    path.write_text('{"access_token": "secret-access-token"')
    path.chmod(0o644)

    assert _cache(path).load() is None
    assert _cache(tmp_path / "absent.json").load() is None
    _cache(tmp_path / "no-such-dir" / "token.json").save(_cached())

    assert len(logged) == 3
    assert "readable by group or others (mode 644)" in logged[0]
    assert "it is not a token cache file" in logged[1]
    assert logged[2].startswith(f"WARNING could not write the token cache {tmp_path}")
    assert not any("secret-access-token" in line for line in logged)


# Settings and reprs


def test_settings_report_every_problem_at_once(rsa_key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(ConfigError) as caught:
        OAuthSettings(
            org_url="example.okta.com",
            client_id=" ",
            key=SigningKey(rsa_key, "RS256"),
            scopes=(),
            dpop="sometimes",  # type: ignore[arg-type]
        )
    assert len(caught.value.problems) == 4


def test_no_secret_in_any_repr(rsa_key: rsa.RSAPrivateKey, rsa_pem: str) -> None:
    key = SigningKey(rsa_key, "RS256")
    settings = OAuthSettings(org_url="https://example.okta.com", client_id=CLIENT_ID, key=key)
    tokens = TokenClient(settings, clock=_FixedClock())
    token = AccessToken(Secret("secret-access-token"), "DPoP", NOW, NOW, ("s",))
    texts = [
        repr(key),
        str(key),
        repr(settings),
        repr(tokens),
        repr(token),
        repr(OAuthAuth(tokens)),
        repr(SswsAuth(Secret("ssws-secret"))),
        repr(DPoPKey.generate()),
    ]
    body = rsa_pem.splitlines()[1]
    assert not any(body in text or "secret" in text.replace("Secret(", "") for text in texts)


def test_oauth_error_carries_its_exit_status_and_code() -> None:
    error = OAuthError("refused", ExitStatus.PERMISSION_DENIED, 400, "invalid_scope")
    assert (error.exit_status, error.status_code, error.error) == (
        ExitStatus.PERMISSION_DENIED,
        400,
        "invalid_scope",
    )
    assert ASSERTION_TYPE.endswith(":jwt-bearer")


class _FixedClock:
    def time(self) -> float:
        return NOW

    def monotonic(self) -> float:
        return NOW

    def sleep(self, seconds: float, wake: Any = None) -> None:
        raise AssertionError("nothing here may sleep")
