"""Full deliveries as processes, SSWS and OAuth + DPoP, with failures along the way; then
everything the program wrote (stderr, the dead-letter file, the spool) is searched for
each secret. The token cache is the access token's own file and is checked for its mode.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import requests

from okta_risk_output.emulator import RegisteredClient, new_client
from okta_risk_output.okta.keys import jwk_thumbprint, read_private_key_file
from tests.support import emulator

API_TOKEN = "00SSWS-secret-token-value-for-the-scan"
POISON = "198.51.100.66"


def lines(count: int) -> bytes:
    records = [
        {"ip": POISON if n == 3 else f"203.0.113.{n + 1}", "riskLevel": "HIGH", "message": f"s {n}"}
        for n in range(count)
    ]
    return "".join(json.dumps(r) + "\n" for r in records).encode() + b"not json\n"


def run(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[bytes]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OKTA_")}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "okta_risk_output",
            "run",
            *args,
            "--spool",
            str(tmp_path / "spool.db"),
            "--dead-letter",
            str(tmp_path / "dl.jsonl"),
            "--rate-limit",
            "1000/s",
            "--linger",
            "0s",
            "--max-backoff",
            "0.2s",
        ],
        input=lines(12),
        env={**clean, **env},
        capture_output=True,
        timeout=120,
        check=False,
    )


def everything_written(tmp_path: Path, done: subprocess.CompletedProcess[bytes]) -> bytes:
    written = done.stdout + done.stderr
    for name in ("dl.jsonl", "spool.db", "spool.db-wal"):
        if (tmp_path / name).exists():
            written += (tmp_path / name).read_bytes()
    with sqlite3.connect(tmp_path / "spool.db") as db:  # decoded too, in case of compression
        written += repr(db.execute("SELECT * FROM meta").fetchall()).encode()
    return written


def test_ssws_secret_never_written(tmp_path: Path) -> None:
    with emulator(
        api_token=API_TOKEN, rate="1000/s", script=(503, 429), reject_ips=frozenset({POISON})
    ) as emu:
        done = run(tmp_path, {"OKTA_ORG_URL": emu.url, "OKTA_API_TOKEN": API_TOKEN})
        assert emu.state.stats()["subjects"] == 11
    assert done.returncode == 0, done.stderr.decode()
    assert API_TOKEN.encode() not in everything_written(tmp_path, done)


def test_oauth_with_dpop_delivers_renews_and_writes_no_secret(tmp_path: Path) -> None:
    client_id = new_client(tmp_path / "app")
    key_file = tmp_path / "app" / "private_key.pem"
    key = read_private_key_file(key_file)
    jwk = key.public_jwk() | {"kid": jwk_thumbprint(key.public_jwk())}
    cache = tmp_path / "token.json"
    with emulator(
        api_token=None,  # OAuth only
        rate="1000/s",
        clients=(RegisteredClient(client_id, (jwk,)),),
        require_dpop=True,
        script=(503,),
        reject_ips=frozenset({POISON}),
    ) as emu:
        env = {"OKTA_ORG_URL": emu.url, "OKTA_CLIENT_ID": client_id}
        first = run(tmp_path, env, "--private-key-file", str(key_file), "--token-cache", str(cache))
        assert first.returncode == 0, first.stderr.decode()
        # Okta forgets the token: the next run's cached token gets a 401, is renewed once,
        # and delivery goes on.
        requests.post(emu.url + "/_emulator/revoke-tokens", timeout=5)
        second = run(
            tmp_path, env, "--private-key-file", str(key_file), "--token-cache", str(cache)
        )
        assert second.returncode == 0, second.stderr.decode()
        assert b"renewing the access token" in second.stderr
        delivered = emu.state.requests()
        issued = emu.oauth.stats()
    assert sum(len(e["subjects"]) for r in delivered for e in r["events"]) == 22
    assert {r.get("client_id") for r in delivered} == {client_id}
    assert issued["outcomes"]["issued"] >= 2
    assert cache.stat().st_mode & 0o777 == 0o600
    secrets = [key.private_pem(), key_file.read_bytes().strip()]
    cached = json.loads(cache.read_text())
    secrets += [str(v).encode() for k, v in cached.items() if "token" in k.lower() and v]
    for done in (first, second):
        written = everything_written(tmp_path, done)
        for secret in secrets:
            assert secret not in written
        # Client assertions, DPoP proofs and access tokens are JWTs: none may appear.
        assert b"eyJ" not in written
