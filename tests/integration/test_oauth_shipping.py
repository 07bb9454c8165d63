"""The plugin with OAuth settings, in-process against the emulator: what each refusal does."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from okta_risk_output.clock import SystemClock
from okta_risk_output.config.settings import build_settings
from okta_risk_output.emulator import RegisteredClient, new_client
from okta_risk_output.errors import ConfigError, ExitStatus
from okta_risk_output.okta.keys import jwk_thumbprint, read_private_key_file
from okta_risk_output.okta.session import user_agent
from okta_risk_output.shipper import Shipper, Source
from tests.support import emulator

SIGNALS = b"".join(
    json.dumps({"ip": f"203.0.113.{n}", "riskLevel": "LOW"}).encode() + b"\n" for n in range(1, 6)
)


@pytest.fixture
def app(tmp_path: Path) -> tuple[str, Path, dict[str, Any]]:
    client_id = new_client(tmp_path / "app")
    key_file = tmp_path / "app" / "private_key.pem"
    public = read_private_key_file(key_file).public_jwk()
    return client_id, key_file, public | {"kid": jwk_thumbprint(public)}


def ship(tmp_path: Path, url: str, client_id: str, key_file: Path) -> tuple[ExitStatus, Shipper]:
    settings = build_settings(
        {
            "client_id": client_id,
            "private_key_file": str(key_file),
            "spool": str(tmp_path / "spool.db"),
            "dead_letter": str(tmp_path / "dl.jsonl"),
            "rate_limit": "1000/s",
        },
        {"OKTA_ORG_URL": url},
    )
    assert settings.oauth is not None  # inferred from the client id
    shipper = Shipper(settings, clock=SystemClock())
    status = shipper.run([Source("<stdin>", io.BytesIO(SIGNALS))])
    shipper.close()
    return status, shipper


@pytest.mark.parametrize(
    ("client", "expected"),
    [
        ({"disabled": True}, ExitStatus.AUTH_FAILED),
        ({"scopes": frozenset({"okta.users.read"})}, ExitStatus.PERMISSION_DENIED),
        ({"wrong_key": True}, ExitStatus.AUTH_FAILED),
    ],
    ids=["disabled-client", "missing-scope", "wrong-key"],
)
def test_a_refused_client_pauses_delivery_keeps_the_spool_and_exits_clearly(
    tmp_path: Path,
    app: tuple[str, Path, dict[str, Any]],
    client: dict[str, Any],
    expected: ExitStatus,
) -> None:
    client_id, key_file, jwk = app
    if client.get("wrong_key"):
        other = new_client(tmp_path / "other")
        key_file = tmp_path / "other" / "private_key.pem"
        assert other != client_id
    scopes = client.get("scopes")
    registered = (
        RegisteredClient(client_id, (jwk,), scopes)
        if scopes
        else RegisteredClient(client_id, (jwk,))
    )
    with emulator(
        api_token=None,  # OAuth only
        rate="1000/s",
        clients=(registered,),
        disabled_clients=frozenset({client_id}) if client.get("disabled") else frozenset(),
    ) as emu:
        status, shipper = ship(tmp_path, emu.url, client_id, key_file)
        assert emu.state.stats()["subjects"] == 0
    assert status is expected
    assert shipper.counters.snapshot()["spooled"] == 5
    assert not (tmp_path / "dl.jsonl").read_text()  # nothing dead-lettered: all kept


def test_auth_settings_are_checked_at_start_with_every_problem(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as both:
        build_settings(
            {"client_id": "0oa1"}, {"OKTA_ORG_URL": "https://x.okta.com", "OKTA_API_TOKEN": "t"}
        )
    assert "choose one with --auth" in str(both.value)
    with pytest.raises(ConfigError) as keyless:
        build_settings({"auth": "oauth"}, {"OKTA_ORG_URL": "https://x.okta.com"})
    assert len(keyless.value.problems) == 2  # no client id, no key
    (tmp_path / "key.pem").write_text("not a key")
    with pytest.raises(ConfigError, match="neither a PEM private key nor a JWK"):
        build_settings(
            {"client_id": "0oa1", "private_key_file": str(tmp_path / "key.pem")},
            {"OKTA_ORG_URL": "https://x.okta.com"},
        )


class _Org(BaseHTTPRequestHandler):
    """A tiny org: a Bearer token for a token request, 202 for anything else; it remembers
    each request's path and User-Agent. The emulator records no headers of token requests."""

    server: _OrgServer

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.seen.append((self.path, self.headers.get("User-Agent")))
        if self.path == "/oauth2/v1/token":
            status, body = 200, json.dumps({"access_token": "t0ken", "token_type": "Bearer"})
        else:
            status, body = 202, ""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: Any) -> None:
        pass  # not on stderr: the test reads what it needs from `seen`


class _OrgServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Org)
        self.seen: list[tuple[str, str | None]] = []
        self.url = f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def org() -> Iterator[_OrgServer]:
    server = _OrgServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def test_the_token_request_carries_the_same_user_agent_as_the_api_request(
    tmp_path: Path, app: tuple[str, Path, dict[str, Any]], org: _OrgServer
) -> None:
    client_id, key_file, _ = app
    status, shipper = ship(tmp_path, org.url, client_id, key_file)
    assert status is ExitStatus.OK
    assert shipper.counters.snapshot()["delivered"] == 5
    paths = [path for path, _ in org.seen]
    assert paths[0] == "/oauth2/v1/token" and "/api/v1/risk/events/ip" in paths[1:]
    assert {agent for _, agent in org.seen} == {user_agent()}
    assert user_agent().startswith("okta-risk-output/")
