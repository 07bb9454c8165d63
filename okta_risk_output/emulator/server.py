"""The emulator's HTTP face: Okta's answers for POST /api/v1/risk/events/ip, the OAuth token
endpoint (decided in oauth.py), and control paths.

`respond` and `control` decide a `Reply` from the request alone, so the Okta behaviour reads
top to bottom in one place; `_Handler` only moves bytes between the socket and those functions.
"""

from __future__ import annotations

import contextlib
import email.utils
import hmac
import ipaddress
import json
import logging
import secrets
import socket
import string
import struct
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from okta_risk_output.emulator.state import Clock, EmulatorConfig, EmulatorState, RateInfo
from okta_risk_output.intake.validation import request_validator

if TYPE_CHECKING:
    # Only for annotations, so typing_extensions need not be installed at run time on 3.10.
    from typing_extensions import Self

    from okta_risk_output.emulator.oauth import AuthorizationServer

__all__ = [
    "CONTROL_PREFIX",
    "ENDPOINT",
    "TOKEN_PATH",
    "Access",
    "Emulator",
    "Reply",
    "control",
    "okta_error",
    "respond",
]

ENDPOINT = "/api/v1/risk/events/ip"
TOKEN_PATH = "/oauth2/v1/token"  # noqa: S105 - a URL path, not a secret
CONTROL_PREFIX = "/_emulator/"

log = logging.getLogger("okta_risk_output.emulator")

_ID_ALPHABET = string.ascii_letters + string.digits
_SUMMARIES = {
    "E0000001": "Api validation failed: riskEvents",
    "E0000003": "The request body was not well-formed.",
    "E0000006": "You do not have permission to perform the requested action",
    "E0000007": f"Not found: Resource not found: {ENDPOINT}",
    "E0000009": "Internal Server Error",
    "E0000011": "Invalid token provided",
    "E0000022": "The endpoint does not support the provided HTTP method",
    "E0000047": "API call exceeded rate limit due to too many requests.",
}
# What a scripted status looks like; other 4xx fall back to E0000001 and 5xx to E0000009.
_SCRIPT_CODES = {
    400: "E0000001",
    401: "E0000011",
    403: "E0000006",
    404: "E0000007",
    405: "E0000022",
    429: "E0000047",
}


@dataclass(frozen=True)
class Reply:
    """One answer. `body` None means an empty body; `drop` means close without answering."""

    status: int
    body: Any = None
    rate: RateInfo | None = None
    drop: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)
    """Extra headers, such as DPoP-Nonce or WWW-Authenticate."""


@dataclass(frozen=True)
class Access:
    """A risk-endpoint request the credential lets in: the OAuth client that sent it (None for
    SSWS), and headers to answer with (a DPoP-Nonce)."""

    client_id: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


def okta_error(code: str, summary: str | None = None, causes: Sequence[str] = ()) -> dict[str, Any]:
    """An error body shaped like Okta's, with a fresh errorId as Okta gives every failure."""
    return {
        "errorCode": code,
        "errorSummary": summary if summary is not None else _SUMMARIES[code],
        "errorLink": code,
        "errorId": "oae" + _random_id(22),
        "errorCauses": [{"errorSummary": cause} for cause in causes],
    }


def respond(
    state: EmulatorState,
    method: str,
    path: str,
    authorization: str | None,
    body: bytes,
    *,
    oauth: AuthorizationServer | None = None,
    url: str = "",
    dpop: str | None = None,
    content_type: str = "",
) -> Reply:
    """Okta's answer to one request outside the control paths, with every check in Okta's order.

    `url` is the request's URL as the client addressed it (DPoP proofs and client assertions
    name it); `dpop` the DPoP header. Without `oauth` there is no token endpoint.
    """
    config = state.config
    now = state.now()
    if state.outage_active(now):
        if config.outage_mode == "reset":
            return Reply(0, drop=True)
        return Reply(503, okta_error("E0000009"), state.peek(now))
    if path == TOKEN_PATH and oauth is not None:
        return oauth.token(method=method, url=url, content_type=content_type, dpop=dpop, body=body)
    if path != ENDPOINT:
        return Reply(404, _not_found(path), state.peek(now))
    if config.endpoint_off:
        return Reply(404, okta_error("E0000007"), state.peek(now))
    if method != "POST":
        return Reply(405, okta_error("E0000022"), state.peek(now))
    scripted = state.take_scripted()
    if scripted is not None:
        return _scripted(state, now, scripted, body)
    if state.roll_failure():
        return Reply(503, okta_error("E0000009"), state.peek(now))
    access = _access(state, oauth, method, url, authorization, dpop)
    if isinstance(access, Reply):
        return replace(access, rate=state.peek(now))
    admission = state.admit(now)
    if not admission.allowed:
        return Reply(429, okta_error("E0000047"), admission.info, headers=access.headers)
    return replace(
        _accept(state, now, body, admission.info, access.client_id), headers=access.headers
    )


def _access(
    state: EmulatorState,
    oauth: AuthorizationServer | None,
    method: str,
    url: str,
    authorization: str | None,
    dpop: str | None,
) -> Access | Reply:
    """Who may send: an OAuth token the emulator issued, or an SSWS API token."""
    scheme, _, credential = (authorization or "").strip().partition(" ")
    if scheme.lower() in ("bearer", "dpop") and oauth is not None:
        return oauth.check_access(
            scheme=scheme, token=credential.strip(), method=method, url=url, dpop=dpop
        )
    config = state.config
    if _authorized(authorization, config.api_token, any_token=config.any_ssws_token):
        return Access()
    return Reply(401, okta_error("E0000011"))


def _accept(
    state: EmulatorState, now: float, body: bytes, rate: RateInfo, client_id: str | None = None
) -> Reply:
    try:
        events = json.loads(body)
    except (ValueError, RecursionError):  # bad UTF-8 is a ValueError too
        return Reply(400, okta_error("E0000003"), rate)
    problems = request_validator().errors(events)
    causes = [f"{problem.path}: {problem.message}" for problem in problems]
    if not causes:
        # Okta refuses a whole request over one address its own rules reject.
        causes = [
            f"$[{i}].subjects[{j}].ip: {subject['ip']} is not accepted by this org"
            for i, event in enumerate(events)
            for j, subject in enumerate(event["subjects"])
            if state.rejected_ip(subject["ip"])
        ]
    if causes:
        return Reply(400, okta_error("E0000001", causes=causes), rate)
    state.record(now, events, client_id)
    return Reply(202, None, rate)


def _scripted(state: EmulatorState, now: float, status: int, body: bytes) -> Reply:
    if 200 <= status < 300:
        # A scripted success stands for a real one: it spends budget and is recorded.
        rate = state.admit(now, force=True).info
        events = _json_or_none(body)
        if isinstance(events, list):
            state.record(now, events)
        return Reply(status, None, rate)
    peeked = state.peek(now)
    if status == 429:
        return Reply(429, okta_error("E0000047"), RateInfo(peeked.limit, 0, peeked.reset))
    code = _SCRIPT_CODES.get(status, "E0000001" if status < 500 else "E0000009")
    return Reply(status, okta_error(code), peeked)


def control(
    state: EmulatorState,
    method: str,
    path: str,
    body: bytes,
    oauth: AuthorizationServer | None = None,
) -> Reply:
    """The /_emulator/ paths: inspection and steering for tests, without auth."""
    name = path[len(CONTROL_PREFIX) :]
    allowed = {
        "requests": "GET",
        "stats": "GET",
        "oauth": "GET",
        "revoke-tokens": "POST",
        "script": "GET POST",
        "reset": "POST",
    }
    if name not in allowed:
        return Reply(404, _not_found(path))
    if method not in allowed[name].split():
        return Reply(405, okta_error("E0000022"))
    if name == "requests":
        return Reply(200, state.requests())
    if name == "stats":
        return Reply(200, state.stats())
    if name == "oauth":
        return Reply(200, {} if oauth is None else oauth.stats())
    if name == "revoke-tokens":
        if oauth is not None:
            oauth.revoke_tokens()
        return Reply(200, {})
    if name == "reset":
        state.reset()
        return Reply(200, {})
    if method == "POST":
        parsed = _json_or_none(body)
        statuses = parsed.get("statuses") if isinstance(parsed, dict) else None
        if not isinstance(statuses, list):
            return Reply(400, okta_error("E0000003", causes=['expected {"statuses": [503, 202]}']))
        try:
            state.script(statuses)
        except ValueError as problem:
            summary = "Api validation failed: statuses"
            return Reply(400, okta_error("E0000001", summary, [str(problem)]))
    return Reply(200, {"statuses": state.scripted()})


def _authorized(header: str | None, token: str | None, *, any_token: bool) -> bool:
    scheme, _, credential = (header or "").strip().partition(" ")
    credential = credential.strip()
    if scheme.upper() != "SSWS" or not credential:
        return False
    if token is None:
        return any_token
    return hmac.compare_digest(credential.encode(), token.encode())


def _not_found(path: str) -> dict[str, Any]:
    return okta_error("E0000007", f"Not found: Resource not found: {path}")


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def _random_id(length: int) -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


class _BadFraming(Exception):
    """The body's length cannot be known, so the connection cannot be reused."""


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keeps connections alive, as Okta does; every reply then needs a Content-Length.
    protocol_version = "HTTP/1.1"
    server_version = "okta-risk-output-emulator"
    # Idle keep-alive connections would otherwise pin a thread for ever.
    timeout = 120

    server: _Server

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _dispatch(self) -> None:
        state = self.server.state
        path = urlsplit(self.path).path
        try:
            body = self._read_body()
        except _BadFraming:
            self.close_connection = True
            self._send(Reply(400, okta_error("E0000003")))
            return
        oauth = self.server.oauth
        if path.startswith(CONTROL_PREFIX):
            self._send(control(state, self.command, path, body, oauth))
            return
        reply = respond(
            state,
            self.command,
            path,
            self.headers.get("Authorization"),
            body,
            oauth=oauth,
            url=self._url(path),
            dpop=self.headers.get("DPoP"),
            content_type=self.headers.get("Content-Type", ""),
        )
        if path != TOKEN_PATH:
            # The stats describe the risk endpoint; the token endpoint keeps its own.
            state.count("reset" if reply.drop else reply.status)
        if state.config.latency > 0:
            time.sleep(state.config.latency)
        if reply.drop:
            self._drop()
        else:
            self._send(reply)

    def _url(self, path: str) -> str:
        """The URL the client addressed, without query: what DPoP's htu and `aud` name."""
        host = self.headers.get("Host")
        if not host:
            address, port = str(self.server.server_address[0]), self.server.server_address[1]
            host = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
        return f"http://{host}{path}"

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise _BadFraming from None
        if length < 0:
            raise _BadFraming
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        chunks = []
        while True:
            try:
                size = int(self.rfile.readline(65537).split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise _BadFraming from None
            if size == 0:
                break
            chunks.append(self.rfile.read(size))
            self.rfile.readline(65537)
        while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
            pass  # trailers carry nothing the emulator uses
        return b"".join(chunks)

    def _send(self, reply: Reply) -> None:
        payload = b"" if reply.body is None else json.dumps(reply.body).encode()
        self.send_response(reply.status)
        self.send_header("X-Okta-Request-Id", _random_id(27))
        if reply.rate is not None:
            self.send_header("X-Rate-Limit-Limit", str(reply.rate.limit))
            self.send_header("X-Rate-Limit-Remaining", str(reply.rate.remaining))
            self.send_header("X-Rate-Limit-Reset", str(reply.rate.reset))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _drop(self) -> None:
        # Linger 0 makes close() send a RST, which is what clients see when a proxy dies.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True

    def version_string(self) -> str:
        return self.server_version

    def date_time_string(self, timestamp: float | None = None) -> str:
        # The Date header must follow the state's clock: clients subtract it from the Reset.
        return email.utils.formatdate(
            self.server.state.now() if timestamp is None else timestamp, usegmt=True
        )

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.state.config.verbose:
            log.info("%s %s", self.address_string(), format % args)

    def log_error(self, format: str, *args: Any) -> None:
        if self.server.state.config.verbose:
            log.warning("%s %s", self.address_string(), format % args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, config: EmulatorConfig, state: EmulatorState, oauth: AuthorizationServer
    ) -> None:
        self.state = state
        self.oauth = oauth
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        if ":" in config.host:
            self.address_family = socket.AF_INET6
        super().__init__((config.host, config.port), _Handler)

    def process_request(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
    ) -> None:
        if isinstance(request, socket.socket):
            with self._open_lock:
                self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: socket.socket | tuple[bytes, socket.socket]) -> None:
        if isinstance(request, socket.socket):
            with self._open_lock:
                self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Wake handler threads parked on idle keep-alive connections so they end."""
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):  # the peer may have closed it already
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(
        self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any
    ) -> None:
        # The default prints a traceback; logs here must stay one line each.
        problem = sys.exc_info()[1]
        if isinstance(problem, (ConnectionError, TimeoutError)):
            return  # the client went away; nothing to answer
        log.error("handling a request from %s failed: %r", client_address, problem)


class Emulator:
    """A local Okta org on a daemon thread: `with Emulator(config) as emu: emu.url ...`."""

    def __init__(self, config: EmulatorConfig | None = None, *, clock: Clock = time.time) -> None:
        self.config = config if config is not None else EmulatorConfig()
        self.state = EmulatorState(self.config, clock)
        # Imported here rather than at the top: PyJWT and cryptography take tens of ms to load,
        # and every `okta-risk-output` command imports this module through the CLI.
        from okta_risk_output.emulator.oauth import AuthorizationServer

        self.oauth = AuthorizationServer(self.config, clock)
        """The token endpoint and the check of the tokens it issued; raises ValueError for a
        client key it cannot use."""
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL, e.g. http://127.0.0.1:8017; only known once started."""
        if self._server is None:
            raise RuntimeError("the emulator is not running; call start() first")
        host, port = self._server.server_address[:2]
        host = str(host)
        address = ipaddress.ip_address(host)
        if address.is_unspecified:
            # A wildcard address is where we listen, not where a client can connect.
            host = "::1" if address.version == 6 else "127.0.0.1"
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def start(self) -> Self:
        if self._server is not None:
            raise RuntimeError("the emulator is already running")
        if self.config.record_path is not None:
            # Fail now rather than on the first accepted request, deep in a handler thread.
            self.config.record_path.open("a", encoding="utf-8").close()
        self._server = _Server(self.config, self.state, self.oauth)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"okta-emulator-{self.url}",
            daemon=True,
        )
        self._thread.start()
        if self.config.any_ssws_token:
            log.warning("no API token set: any non-empty SSWS token is accepted")
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
