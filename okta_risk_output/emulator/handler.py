"""HTTP framing: read a `Request` off the socket, hand it to the emulator's behaviour, and
write the `Reply` back with Okta's headers (X-Okta-Request-Id, X-Rate-Limit-*).

Nothing here knows Okta's rules: `HttpServer` is given one function, `answer`, that decides
every reply; this module only moves bytes, keeps connections alive and closes them.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import logging
import socket
import struct
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from okta_risk_output.emulator.config import Clock
from okta_risk_output.emulator.messages import Reply, Request, okta_error, random_id

__all__ = ["Answer", "HttpServer"]

Answer = Callable[[Request], Reply]
"""What decides the reply to a request (routes.route, bound to the emulator's state)."""

log = logging.getLogger("okta_risk_output.emulator")


class _BadFraming(Exception):
    """The body's length cannot be known, so the connection cannot be reused."""


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 keeps connections alive, as Okta does; every reply then needs a Content-Length.
    protocol_version = "HTTP/1.1"
    server_version = "okta-risk-output-emulator"
    # Idle keep-alive connections would otherwise pin a thread for ever.
    timeout = 120

    server: HttpServer

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _dispatch(self) -> None:
        path = urlsplit(self.path).path
        try:
            body = self._read_body()
        except _BadFraming:
            self.close_connection = True
            self._send(Reply(400, okta_error("E0000003")))
            return
        request = Request(
            method=self.command,
            path=path,
            url=self._url(path),
            body=body,
            authorization=self.headers.get("Authorization"),
            dpop=self.headers.get("DPoP"),
            content_type=self.headers.get("Content-Type", ""),
        )
        reply = self.server.answer(request)
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
        self.send_header("X-Okta-Request-Id", random_id(27))
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
        # The Date header must follow the emulator's clock: clients subtract it from the Reset.
        return email.utils.formatdate(
            self.server.clock() if timestamp is None else timestamp, usegmt=True
        )

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            log.info("%s %s", self.address_string(), format % args)

    def log_error(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            log.warning("%s %s", self.address_string(), format % args)


class HttpServer(ThreadingHTTPServer):
    """A thread per connection, each answered by `answer`; `close_connections` ends idle
    keep-alive ones at shutdown."""

    daemon_threads = True

    def __init__(
        self, host: str, port: int, answer: Answer, *, clock: Clock, verbose: bool
    ) -> None:
        self.answer = answer
        self.clock = clock
        self.verbose = verbose
        """Whether to log every request (and the handler's errors) on stderr."""
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), _Handler)

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
