"""Asymmetric signing keys for OAuth: the client's private key (PEM or JWK) and JWK helpers.

Okta accepts RSA and EC keys for `private_key_jwt`. The algorithm follows the key unless the
key or the caller names one: RSA by size (RS256 below 3072 bits, RS384 below 4096, RS512
above), EC by curve (P-256 ES256, P-384 ES384, P-521 ES512).

A key never appears in a repr, a log line or an error message; errors name only where the
key came from.
"""

from __future__ import annotations

import base64
import hashlib
import json
import stat
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from okta_risk_output.errors import ConfigError
from okta_risk_output.observe.logs import log

__all__ = [
    "EC_ALGORITHMS",
    "RSA_ALGORITHMS",
    "SigningKey",
    "b64url",
    "jwk_thumbprint",
    "load_private_jwk",
    "load_private_key",
    "public_key_from_jwk",
    "read_private_key_file",
]

RSA_ALGORITHMS = ("RS256", "RS384", "RS512")
EC_ALGORITHMS = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}
_CURVE_NAMES = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}
_MIN_RSA_BITS = 2048  # Okta refuses smaller keys
# The members RFC 7638 hashes for each key type, in the order it fixes (lexicographic).
_THUMBPRINT_MEMBERS = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y")}

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


class SigningKey:
    """A private key with the JWS algorithm it signs with and an optional key id (`kid`)."""

    __slots__ = ("_key", "algorithm", "kid")

    def __init__(self, key: PrivateKey, algorithm: str, kid: str | None = None) -> None:
        self._key = key
        self.algorithm = algorithm
        self.kid = kid

    @classmethod
    def generate_ec(cls) -> SigningKey:
        """A fresh P-256 key: small, fast to make and to sign with; what DPoP keys use."""
        return cls(ec.generate_private_key(ec.SECP256R1()), "ES256")

    @classmethod
    def generate_rsa(cls, bits: int = 2048) -> SigningKey:
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=bits), "RS256")

    def sign(self, claims: dict[str, Any], headers: dict[str, Any] | None = None) -> str:
        """A compact JWS of `claims`; `kid` goes in the header when the key has one."""
        header = dict(headers or {})
        if self.kid is not None:
            header.setdefault("kid", self.kid)
        return jwt.encode(claims, self._key, algorithm=self.algorithm, headers=header)

    def public_jwk(self) -> dict[str, Any]:
        """The public half as a JWK (no `kid` or `alg`: callers add what they need)."""
        return _to_jwk(self._key.public_key())

    def private_jwk(self) -> dict[str, Any]:
        """The whole key as a JWK, for a file of its own (the token cache); never log it."""
        jwk = _to_jwk(self._key)
        jwk["alg"] = self.algorithm
        return jwk

    def private_pem(self) -> bytes:
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def __repr__(self) -> str:
        return f"SigningKey(algorithm={self.algorithm!r}, kid={self.kid!r})"

    __str__ = __repr__


def read_private_key_file(
    path: Path, *, kid: str | None = None, algorithm: str | None = None
) -> SigningKey:
    """Load a PEM or JWK private key file; WARN when group or others may read it."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as problem:
        reason = problem.strerror if isinstance(problem, OSError) else "not UTF-8 text"
        raise ConfigError([f"cannot read the private key file {path}: {reason}"]) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning(
            "the private key file %s is readable by group or others (mode %o); run chmod 600 on it",
            path,
            stat.S_IMODE(mode),
        )
    return load_private_key(
        text, source=f"the private key file {path}", kid=kid, algorithm=algorithm
    )


def load_private_key(
    text: str,
    *,
    source: str = "the private key",
    kid: str | None = None,
    algorithm: str | None = None,
) -> SigningKey:
    """Parse a private key given as PEM or as a JWK (JSON; a JWKS holding one key will do).

    `source` says where the text came from, for error messages (never the text itself).
    An explicit `kid` or `algorithm` wins over the JWK's own `kid` and `alg`.
    """
    text = text.strip()
    if text.startswith("{"):
        key, jwk_kid, jwk_alg = _parse_jwk(text, source)
        kid = kid if kid is not None else jwk_kid
        algorithm = algorithm if algorithm is not None else jwk_alg
    elif text.startswith("-----BEGIN"):
        key = _parse_pem(text, source)
    else:
        raise ConfigError([f"{source} is neither a PEM private key nor a JWK"])
    return SigningKey(key, _algorithm_for(key, algorithm, source), kid or None)


def load_private_jwk(jwk: dict[str, Any], *, source: str) -> SigningKey:
    """A private key from a parsed JWK, keeping the JWK's own `kid` and `alg`."""
    key, kid, algorithm = _private_key_from_jwk(jwk, source)
    return SigningKey(key, _algorithm_for(key, algorithm, source), kid)


def public_key_from_jwk(jwk: dict[str, Any]) -> tuple[PublicKey, tuple[str, ...]]:
    """The public key a JWK describes and the algorithms it may verify.

    The algorithms come from the key, never from a token's header (RFC 8725 section 2.1).
    Raises ValueError for anything but a public RSA or EC key Okta would accept.
    """
    if "d" in jwk:
        raise ValueError("the JWK holds a private key; give its public half")
    try:
        if jwk.get("kty") == "RSA":
            rsa_key = RSAAlgorithm.from_jwk(jwk)
            if not isinstance(rsa_key, rsa.RSAPublicKey):
                raise ValueError("not an RSA public key")
            if rsa_key.key_size < _MIN_RSA_BITS:
                raise ValueError(f"an RSA key needs at least {_MIN_RSA_BITS} bits")
            return rsa_key, RSA_ALGORITHMS
        if jwk.get("kty") == "EC":
            ec_key = ECAlgorithm.from_jwk(jwk)
            if not isinstance(ec_key, ec.EllipticCurvePublicKey):
                raise ValueError("not an EC public key")
            return ec_key, (EC_ALGORITHMS[_curve(ec_key.curve)],)
    except (jwt.PyJWTError, KeyError) as problem:
        raise ValueError(f"not a usable JWK ({type(problem).__name__})") from None
    raise ValueError(f"unsupported key type {jwk.get('kty')!r}; Okta accepts RSA and EC keys")


def jwk_thumbprint(jwk: dict[str, Any]) -> str:
    """The RFC 7638 SHA-256 thumbprint, base64url: DPoP's `jkt` and a natural `kid`."""
    members = _THUMBPRINT_MEMBERS.get(str(jwk.get("kty")))
    if members is None:
        raise ValueError(f"no thumbprint for key type {jwk.get('kty')!r}")
    canonical = json.dumps({name: jwk[name] for name in members}, separators=(",", ":"))
    return b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def b64url(data: bytes) -> str:
    """Unpadded base64url, as JOSE writes binary values."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _parse_pem(text: str, source: str) -> PrivateKey:
    if "\\n" in text and "\n" not in text:
        # An environment variable often carries the PEM with its newlines escaped.
        text = text.replace("\\n", "\n")
    if "PRIVATE KEY" not in text.split("\n", 1)[0]:
        raise ConfigError([f"{source} is not a private key (a public key or certificate?)"])
    try:
        key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
    except TypeError:
        raise ConfigError([f"{source} is encrypted; give an unencrypted private key"]) from None
    except (ValueError, UnicodeEncodeError):
        raise ConfigError([f"{source} is not a readable PEM private key"]) from None
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise ConfigError([f"{source} is neither an RSA nor an EC key; Okta accepts only those"])
    return key


def _parse_jwk(text: str, source: str) -> tuple[PrivateKey, str | None, str | None]:
    try:
        jwk = json.loads(text)
    except ValueError:
        raise ConfigError([f"{source} looks like JSON but is not valid JSON"]) from None
    if isinstance(jwk, dict) and isinstance(jwk.get("keys"), list):
        if len(jwk["keys"]) != 1:
            raise ConfigError([f"{source} is a JWK set; it must hold exactly one key"])
        jwk = jwk["keys"][0]
    if not isinstance(jwk, dict):
        raise ConfigError([f"{source} is not a JWK object"])
    return _private_key_from_jwk(jwk, source)


def _private_key_from_jwk(
    jwk: dict[str, Any], source: str
) -> tuple[PrivateKey, str | None, str | None]:
    if "d" not in jwk:
        raise ConfigError([f"{source} is a public JWK; the private key (with 'd') is needed"])
    kty = jwk.get("kty")
    try:
        if kty == "RSA":
            key: object = RSAAlgorithm.from_jwk(jwk)
        elif kty == "EC":
            key = ECAlgorithm.from_jwk(jwk)
        else:
            raise ConfigError([f"{source} has key type {kty!r}; Okta accepts RSA and EC keys"])
    except (jwt.PyJWTError, KeyError, ValueError):
        raise ConfigError([f"{source} is not a valid {kty} private JWK"]) from None
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise ConfigError([f"{source} is not a private key"])
    kid, alg = jwk.get("kid"), jwk.get("alg")
    return key, (str(kid) if kid else None), (str(alg) if alg else None)


def _algorithm_for(key: PrivateKey, requested: str | None, source: str) -> str:
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < _MIN_RSA_BITS:
            raise ConfigError([f"{source} has {key.key_size} bits; Okta needs at least 2048"])
        if requested is None:
            return "RS512" if key.key_size >= 4096 else "RS384" if key.key_size >= 3072 else "RS256"
        if requested not in RSA_ALGORITHMS:
            raise ConfigError(
                [f"{source} is an RSA key, which signs with RS256, RS384 or RS512, not {requested}"]
            )
        return requested
    curve = _curve(key.curve)
    expected = EC_ALGORITHMS.get(curve)
    if expected is None:
        raise ConfigError([f"{source} uses curve {curve}; Okta accepts P-256, P-384 and P-521"])
    if requested is not None and requested != expected:
        raise ConfigError([f"{source} is an EC {curve} key, which signs with {expected} only"])
    return expected


def _curve(curve: ec.EllipticCurve) -> str:
    return _CURVE_NAMES.get(curve.name, curve.name)


def _to_jwk(key: PrivateKey | PublicKey) -> dict[str, Any]:
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        jwk = RSAAlgorithm.to_jwk(key, as_dict=True)
    else:
        jwk = ECAlgorithm.to_jwk(key, as_dict=True)
    # PyJWT adds key_ops; a DPoP header and Okta's key list need only the key itself.
    return {name: value for name, value in jwk.items() if name != "key_ops"}
