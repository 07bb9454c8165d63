"""The HTTP client for Okta's risk events endpoint. It sends; retry.py decides what it meant.

Every request is bounded as a whole: connecting, sending and the full answer end within
--timeout. A socket timeout bounds each read only, so a server that trickles its status
line, headers or body a byte every few seconds would hold a request for ever. `Deadline`
is the watchdog: when the time is up it shuts down the socket of every connection used
under it, which ends the read or write blocked on it, and the request raises
`requests.Timeout`, retried like any network error. Only a bounded prefix of an answer is
read (answers.read_answer); the rest is not drained, its connection is closed.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import platform
import socket
import threading
from types import TracebackType
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from okta_risk_output import __version__
from okta_risk_output.okta.answers import MAX_ANSWER_BYTES, read_answer
from okta_risk_output.okta.auth import OktaAuth

__all__ = [
    "ENDPOINT_PATH",
    "Deadline",
    "HeaderRefused",
    "OktaClient",
    "bounded_request",
    "user_agent",
    "watch_deadlines",
]

ENDPOINT_PATH = "/api/v1/risk/events/ip"


def user_agent() -> str:
    return (
        f"okta-risk-output/{__version__} python-requests/{requests.__version__} "
        f"python/{platform.python_version()}"
    )


class HeaderRefused(ValueError):
    """A header value (the credential, in practice) has characters HTTP does not allow.

    The error it replaces quotes the value, so it is neither quoted nor chained.
    """


class OktaClient:
    def __init__(
        self,
        org_url: str,
        auth: OktaAuth,
        *,
        timeout: float = 30.0,
        session: requests.Session | None = None,
    ) -> None:
        self.url = org_url.rstrip("/") + ENDPOINT_PATH
        self.auth = auth
        self._total = timeout
        # Connecting should be quick; reading may wait on a busy org. Both within _total.
        self._timeout = (min(10.0, timeout), timeout)
        self._session = watch_deadlines(session or requests.Session())
        self._session.headers.update(
            {
                "Accept": "application/json",
                "Content-Type": "application/json",
                "User-Agent": user_agent(),
            }
        )

    def post(self, events: list[dict[str, Any]]) -> requests.Response:
        """POST one request body; raises requests.RequestException when no answer came
        within the timeout, HeaderRefused when the credential cannot go in a header."""
        return bounded_request(
            self._session,
            "POST",
            self.url,
            seconds=self._total,
            data=json.dumps(events, separators=(",", ":")).encode("utf-8"),
            auth=self.auth,
            timeout=self._timeout,
        )

    def close(self) -> None:
        self._session.close()


def bounded_request(
    session: requests.Session,
    method: str,
    url: str,
    *,
    seconds: float,
    limit: int = MAX_ANSWER_BYTES,
    **kwargs: Any,
) -> requests.Response:
    """One request whose connect, send and answer all end within `seconds`, of whose body at
    most `limit` (+1) bytes are read. The session must be one `watch_deadlines` prepared.

    Raises requests.Timeout when the time ran out, HeaderRefused for a header value HTTP
    forbids, and otherwise what requests raises.
    """
    deadline = Deadline(seconds)
    try:
        with deadline:
            # requests would turn a redirected POST into a GET; a redirect is a config error.
            response = session.request(method, url, stream=True, allow_redirects=False, **kwargs)
            read_answer(response, limit)
    except requests.exceptions.InvalidHeader as problem:
        if problem.args and isinstance(problem.args[0], urllib3.exceptions.HTTPError):
            # urllib3 found the *answer's* headers broken (two Content-Lengths that
            # disagree): a bad answer, retried like a network error, not our credential.
            host = urllib3.util.parse_url(url).host
            raise requests.ConnectionError(
                f"a malformed answer from {host} ({type(problem.args[0]).__name__})"
            ) from None
        raise HeaderRefused(_HEADER_REFUSED) from None
    except (
        requests.RequestException,
        OSError,
        http.client.HTTPException,
        urllib3.exceptions.HTTPError,
    ):
        # A shut-down socket surfaces as a reset, an EOF or a short body; and an EOF can
        # even end a body without a Content-Length "normally". The deadline tells which.
        if deadline.expired:
            raise _timed_out(url, seconds) from None
        raise
    except ValueError as problem:
        # http.client refuses a bad header value with a ValueError that quotes it, or fails
        # to encode it as Latin-1 (the Authorization header is set by the auth hook, after
        # requests' own check).
        if isinstance(problem, UnicodeEncodeError) or str(problem).startswith("Invalid header"):
            raise HeaderRefused(_HEADER_REFUSED) from None
        raise
    if deadline.expired:  # a body ended by the shutdown looks complete: it is not
        raise _timed_out(url, seconds)
    return response


_HEADER_REFUSED = "a header value (the credential) has characters HTTP does not allow"


def _timed_out(url: str, seconds: float) -> requests.Timeout:
    host = urllib3.util.parse_url(url).host
    return requests.Timeout(f"no complete answer from {host} within {seconds:g}s")


# -- the watchdog ----------------------------------------------------------------------

_active = threading.local()
"""The deadlines of the requests in flight on this thread, innermost last: an OAuth token
request runs inside the API request that needed the token, and counts against both."""


class Deadline:
    """A context: once `seconds` have passed, every connection used under it is shut down."""

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._lock = threading.Lock()
        self._connections: list[HTTPConnection] = []
        self._sockets: list[socket.socket] = []
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> Deadline:
        _deadlines().append(self)
        self._timer.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._timer.cancel()
        _deadlines().remove(self)

    def watch(self, connection: HTTPConnection) -> None:
        with self._lock:
            if connection not in self._connections:
                self._connections.append(connection)
            # Kept as well: http.client drops conn.sock when an answer ends by closing,
            # and the answer then reads from this same socket.
            if connection.sock is not None and connection.sock not in self._sockets:
                self._sockets.append(connection.sock)
            if self.expired:
                self._shut()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True  # before the shutdown, so whoever sees its EOF sees this
            self._shut()

    def _shut(self) -> None:
        # conn.sock is read now: during a TLS handshake it is the plain socket, after it
        # the TLS one. shutdown(), unlike close(), wakes a thread blocked on the socket.
        current = [c.sock for c in self._connections if c.sock is not None]
        for sock in self._sockets + current:
            with contextlib.suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)


def _deadlines() -> list[Deadline]:
    stack: list[Deadline] | None = getattr(_active, "deadlines", None)
    if stack is None:
        stack = _active.deadlines = []
    return stack


def _watch(connection: HTTPConnection) -> None:
    for deadline in _deadlines():
        deadline.watch(connection)


class _WatchedHTTPConnection(HTTPConnection):
    """Tells the thread's deadlines which connection a request uses, new or reused."""

    def connect(self) -> None:
        _watch(self)
        super().connect()
        _watch(self)  # the time ran out while connecting: shut the new socket at once

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch(self)
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        _watch(self)
        super().connect()
        _watch(self)

    def request(self, *args: Any, **kwargs: Any) -> None:
        _watch(self)
        super().request(*args, **kwargs)


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


class _DeadlineAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):  # SOCKS pools keep their own connections
            manager.pool_classes_by_scheme = _POOLS
        return manager


def watch_deadlines(session: requests.Session) -> requests.Session:
    """Mount the adapter that lets `Deadline` find the sockets; returns the session."""
    if not isinstance(session.get_adapter("https://"), _DeadlineAdapter):
        session.mount("https://", _DeadlineAdapter())
        session.mount("http://", _DeadlineAdapter())
    return session
