"""Hostile answers over real loopback HTTP (issue 11, cases 3, 6, 7, 8 and 16).

Each server here is a real socket server on 127.0.0.1, port 0, in daemon threads; every
answer is finite and every wait in it ends when the test closes the server. No test sleeps
for timing: the trickling servers pace their own bytes, and the client's deadline is what
is measured.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from okta_risk_output.clock import SystemClock
from okta_risk_output.delivery.retry import Action, classify
from okta_risk_output.errors import ConfigError, ExitStatus, OAuthError
from okta_risk_output.hosts.splunk import SplunkAlert, fetch_secret
from okta_risk_output.observe.logs import setup_logging
from okta_risk_output.okta.auth import OAuthAuth, SswsAuth
from okta_risk_output.okta.client import OktaClient
from okta_risk_output.okta.keys import SigningKey
from okta_risk_output.okta.oauth import OAuthSettings, TokenClient, TokenEndpointUnavailable
from okta_risk_output.okta.secret import Secret
from okta_risk_output.shipper import Shipper, Source
from tests.support import TOKEN, FakeClock, make_settings

EVENTS = [{"subjects": [{"ip": "203.0.113.7", "riskLevel": "HIGH", "message": "spray"}]}]
BOUND = 64 * 1024  # okta.answers.MAX_ANSWER_BYTES
DEEP = b"[" * 100_000 + b"]" * 100_000
CAP = 64 << 20
"""The most any server here sends: a "2 GB" body stops after this, read or not."""


class Send:
    """Writes one answer to one client; False once the client hung up or the test ended."""

    def __init__(self, sock: socket.socket, closing: threading.Event) -> None:
        self.sock = sock
        self.closing = closing
        self.sent = 0
        self.hung_up = False

    def __call__(self, data: bytes, *, pace: float = 0.0) -> bool:
        pieces = [data[i : i + 1] for i in range(len(data))] if pace else [data]
        for piece in pieces:
            if self.closing.wait(pace) if pace else self.closing.is_set():
                return False
            try:
                self.sock.sendall(piece)
            except OSError:
                self.hung_up = True
                return False
            self.sent += len(piece)
        return True


Script = Callable[[str, Send], None]
"""Answers one request: given its path and the sender."""


class Hostile(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, script: Script) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script = script
        self.closing = threading.Event()
        self.answered = threading.Event()
        self.senders: list[Send] = []
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.closing.set()
        self.shutdown()
        self.server_close()


class _Handler(socketserver.BaseRequestHandler):
    server: Hostile

    def handle(self) -> None:
        self.request.settimeout(10.0)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = self.request.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            found = re.search(rb"(?im)^content-length:\s*(\d+)", head)
            while found and len(body) < int(found.group(1)):
                chunk = self.request.recv(65536)
                if not chunk:
                    break
                body += chunk
        except OSError:
            return
        path = head.split(b" ", 2)[1].decode()
        send = Send(self.request, self.server.closing)
        self.server.senders.append(send)
        self.server.script(path, send)
        self.server.answered.set()


def head(status: str, length: int | None, **headers: str) -> bytes:
    lines = [f"HTTP/1.1 {status}", "Connection: close"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def whole(status: str, body: bytes, **headers: str) -> Script:
    """The same complete answer to every request."""

    def script(path: str, send: Send) -> None:
        send(head(status, len(body), **headers) + body)

    return script


def endless(status: str) -> Script:
    """Promises 2 GB and keeps sending until the client hangs up (or CAP is reached)."""

    def script(path: str, send: Send) -> None:
        send(head(status, 2 << 30, Content_Type="application/json"))
        chunk = b" " * (1 << 20)
        while send.sent < CAP and send(chunk):
            pass

    return script


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate_rsa()


@pytest.fixture
def serve() -> Iterator[Callable[[Script], Hostile]]:
    servers: list[Hostile] = []

    def start(script: Script) -> Hostile:
        servers.append(Hostile(script))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def client(url: str, *, timeout: float = 10.0, token: str = TOKEN) -> OktaClient:
    return OktaClient(url, SswsAuth(Secret(token)), timeout=timeout)


def ship(tmp_path: Path, url: str, count: int, logs: io.StringIO) -> tuple[ExitStatus, Shipper]:
    lines = [
        json.dumps({"ip": f"203.0.113.{n + 1}", "riskLevel": "HIGH", "message": f"signal {n}"})
        for n in range(count)
    ]
    settings = make_settings(tmp_path, url, rate_limit="100000/s")
    shipper = Shipper(settings, clock=SystemClock())
    setup_logging("INFO", logs)
    try:
        status = shipper.run([Source("<stdin>", io.BytesIO("\n".join(lines).encode() + b"\n"))])
        assert shipper.counters.balance(), shipper.counters.snapshot()
    finally:
        shipper.close()
        setup_logging()
    return status, shipper


# -- case 6: bounded bodies, safe parsing ------------------------------------------------


def test_a_2_gb_answer_is_read_no_further_than_the_bound(
    serve: Callable[[Script], Hostile],
) -> None:
    server = serve(endless("202 Accepted"))
    okta = client(server.url)
    response = okta.post(EVENTS)
    assert response.status_code == 202
    assert len(response.content) <= BOUND + 1
    assert classify(response).action is Action.DELIVERED
    # The rest was not drained: the connection was closed, and the server noticed.
    assert server.answered.wait(10.0)
    (sender,) = server.senders
    assert sender.hung_up and sender.sent < CAP
    okta.close()


def test_a_compression_bomb_is_inflated_no_further_than_the_bound(
    serve: Callable[[Script], Hostile],
) -> None:
    bomb = gzip.compress(b" " * (100 << 20), 9)  # 100 MB in about 100 KB
    server = serve(whole("400 Bad Request", bomb, Content_Encoding="gzip"))
    okta = client(server.url)
    response = okta.post(EVENTS)
    okta.close()
    assert len(response.content) == BOUND + 1
    outcome = classify(response)
    assert outcome.action is Action.RETRY and "a blank body of" in outcome.reason


def test_a_202_nested_100000_deep_is_acked_not_a_crash(
    tmp_path: Path, serve: Callable[[Script], Hostile]
) -> None:
    server = serve(whole("202 Accepted", DEEP, Content_Type="application/json"))
    status, shipper = ship(tmp_path, server.url, 3, io.StringIO())
    assert status is ExitStatus.OK
    assert shipper.counters.snapshot()["delivered"] == 3


@pytest.mark.parametrize("answer", ["deep", "endless"])
def test_the_token_endpoints_answer_is_bounded_and_parsed_safely(
    serve: Callable[[Script], Hostile], clock: FakeClock, key: SigningKey, answer: str
) -> None:
    script = whole("200 OK", DEEP, Content_Type="application/json")
    server = serve(script if answer == "deep" else endless("200 OK"))
    settings = OAuthSettings(org_url=server.url, client_id="0oa1", key=key, dpop="off")
    tokens = TokenClient(settings, clock=clock)
    with pytest.raises(OAuthError, match="answered 200 without an access token"):
        tokens.current()
    tokens.close()


def test_splunkds_answer_is_parsed_safely(serve: Callable[[Script], Hostile]) -> None:
    server = serve(whole("200 OK", b'{"entry": ' + DEEP + b"}"))
    alert = splunk_alert(server.url, "session-key")
    with pytest.raises(ConfigError, match="not JSON with an entry list"):
        fetch_secret(alert)


# -- case 3: the whole request within --timeout -------------------------------------------

TRICKLED = {
    "status line": lambda send: send(head("202 Accepted", 0), pace=0.1),
    "headers": lambda send: (
        send(b"HTTP/1.1 202 Accepted\r\n") and send(b"X-Pad: " + b"a" * 60 + b"\r\n", pace=0.1)
    ),
    "body": lambda send: send(head("202 Accepted", 60)) and send(b"b" * 60, pace=0.1),
}


@pytest.mark.parametrize("part", list(TRICKLED))
def test_a_server_trickling_its_answer_is_cut_off_at_the_timeout(
    serve: Callable[[Script], Hostile], part: str
) -> None:
    # A byte every 0.1 s never trips a 1 s socket timeout; the answer would take 6 s.
    server = serve(lambda path, send: TRICKLED[part](send) and None)
    okta = client(server.url, timeout=1.0)
    started = time.monotonic()
    with pytest.raises(requests.Timeout) as caught:
        okta.post(EVENTS)
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 3.0, elapsed
    assert classify(None, caught.value).action is Action.RETRY
    okta.close()


def test_a_trickling_token_endpoint_is_cut_off_at_the_timeout(
    serve: Callable[[Script], Hostile], clock: FakeClock, key: SigningKey
) -> None:
    server = serve(lambda path, send: TRICKLED["body"](send) and None)
    settings = OAuthSettings(org_url=server.url, client_id="0oa1", key=key, dpop="off", timeout=1.0)
    tokens = TokenClient(settings, clock=clock)
    started = time.monotonic()
    with pytest.raises(TokenEndpointUnavailable):
        tokens.current()
    assert time.monotonic() - started < 3.0
    tokens.close()


# -- case 7: error details stay small ----------------------------------------------------


def test_a_400_with_2000_causes_keeps_the_dead_letter_file_and_the_log_small(
    tmp_path: Path, serve: Callable[[Script], Hostile]
) -> None:
    causes = [{"errorSummary": f"e{n}"} for n in range(2_000)]
    body = json.dumps({"errorCode": "E0000001", "errorSummary": "bad", "errorCauses": causes})
    assert len(body) < BOUND  # Okta's own answer, read whole
    server = serve(whole("400 Bad Request", body.encode(), Content_Type="application/json"))
    logs = io.StringIO()
    status, shipper = ship(tmp_path, server.url, 20, logs)
    assert status is ExitStatus.OK
    assert shipper.counters.snapshot()["rejected"] == 20
    dead = (tmp_path / "dead.jsonl").read_text().splitlines()
    assert len(dead) == 20
    for line in dead:
        messages = [e["message"] for e in json.loads(line)["errors"]]
        assert messages[:2] == ["Okta: e0", "Okta: e1"] and "Okta: ... and 1990 more" in messages
    # Before: every entry and every log line carried all 2,000 causes.
    assert max(len(line) for line in dead) < 2_000
    assert max(len(line) for line in logs.getvalue().splitlines()) < 2_000


# -- case 8: a 400 that is not Okta's ----------------------------------------------------


def test_a_proxys_html_400_condemns_nothing_and_names_the_proxy(
    serve: Callable[[Script], Hostile],
) -> None:
    page = b"<html><head><title>Request Rejected</title></head><body>id 4471</body></html>"
    server = serve(whole("400 Bad Request", page, Content_Type="text/html", Server="BigIP"))
    okta = client(server.url)
    outcome = classify(okta.post(EVENTS))
    okta.close()
    assert outcome.action is Action.RETRY and outcome.foreign
    assert "Server BigIP" in outcome.reason and "Request Rejected" in outcome.reason


# -- case 16: no credential in an error ---------------------------------------------------


def splunk_alert(server_uri: str, session_key: str) -> SplunkAlert:
    return SplunkAlert(
        results_file="unused.csv.gz",
        search_name="s",
        sid="1",
        server_uri=server_uri,
        session_key=session_key,
        configuration={"credential_user": "okta-api"},
    )


@pytest.mark.parametrize("key", ["skSECRET\nX-Evil: 1", "skSECRET\r", "skSECRET\u20ac"])
def test_a_splunk_session_key_that_cannot_be_a_header_is_never_quoted(
    serve: Callable[[Script], Hostile], key: str
) -> None:
    server = serve(whole("200 OK", b'{"entry": []}'))
    with pytest.raises(ConfigError) as caught:
        fetch_secret(splunk_alert(server.url, key))
    assert "SECRET" not in str(caught.value) and "SECRET" not in repr(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_an_unreachable_splunkd_is_named_by_host_only() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    alert = splunk_alert(f"http://admin:hunter2@127.0.0.1:{port}", "skSECRET")
    with pytest.raises(ConfigError) as caught:
        fetch_secret(alert, timeout=2.0)
    assert str(caught.value) == f"cannot reach splunkd at 127.0.0.1:{port} (ConnectionError)"


@pytest.mark.parametrize("token", ["00SECRET\nX-Evil: 1", "00SECRET\r", "00SECRET\u20ac"])
def test_an_api_token_that_cannot_be_a_header_is_never_quoted(
    serve: Callable[[Script], Hostile], token: str
) -> None:
    server = serve(whole("202 Accepted", b""))
    okta = client(server.url, token=token)
    with pytest.raises(ValueError) as caught:
        okta.post(EVENTS)
    okta.close()
    assert "SECRET" not in str(caught.value) and "SECRET" not in repr(caught.value)
    assert not server.senders  # nothing went out


def test_an_access_token_that_cannot_be_a_header_is_refused_unquoted(
    serve: Callable[[Script], Hostile], clock: FakeClock, key: SigningKey
) -> None:
    issued = json.dumps({"access_token": "eyJSECRET\nX-Evil: 1", "token_type": "Bearer"})
    server = serve(whole("200 OK", issued.encode(), Content_Type="application/json"))
    settings = OAuthSettings(org_url=server.url, client_id="0oa1", key=key, dpop="off")
    okta = OktaClient(server.url, OAuthAuth(TokenClient(settings, clock=clock)))
    with pytest.raises(OAuthError, match="other than visible ASCII") as caught:
        okta.post(EVENTS)
    okta.close()
    assert "SECRET" not in str(caught.value) and "SECRET" not in repr(caught.value)
