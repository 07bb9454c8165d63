"""The OAuth clients the emulator's org knows: their public keys, parsed once at start-up
(`load_clients`), and `new_client`, which makes a key pair for a new one."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from okta_risk_output.emulator.config import RegisteredClient
from okta_risk_output.emulator.messages import random_id
from okta_risk_output.okta.keys import PublicKey, SigningKey, jwk_thumbprint, public_key_from_jwk

__all__ = ["Client", "ClientKey", "load_clients", "new_client"]


@dataclass(frozen=True)
class ClientKey:
    kid: str
    public: PublicKey
    algorithms: tuple[str, ...]


@dataclass
class Client:
    client_id: str
    keys: list[ClientKey]
    scopes: frozenset[str]
    disabled: bool


def load_clients(
    registered: tuple[RegisteredClient, ...], disabled: frozenset[str]
) -> dict[str, Client]:
    """Parse every registered JWK now, so that a bad one fails at start-up (ValueError)."""
    clients: dict[str, Client] = {}
    for entry in registered:
        client = clients.setdefault(
            entry.client_id,
            Client(entry.client_id, [], frozenset(), entry.client_id in disabled),
        )
        client.scopes |= entry.scopes
        for jwk in entry.keys:
            try:
                public, algorithms = public_key_from_jwk(dict(jwk))
            except ValueError as problem:
                raise ValueError(f"a key of client {entry.client_id}: {problem}") from None
            kid = jwk.get("kid") or jwk_thumbprint(dict(jwk))
            client.keys.append(ClientKey(str(kid), public, algorithms))
    return clients


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
    return "0oa" + random_id(17)
