"""The deadline watchdog: what bounds a whole request, not just each read.

A socket timeout bounds each read only, so a server that trickles its status line, headers
or body a byte every few seconds would hold a request for ever. `Deadline` is the watchdog:
when the time is up it shuts down the socket of every connection used under it, which ends
the read or write blocked on it. To find those sockets, a session's connection pools must
report each connection they use: `watch_deadlines` mounts the adapter that makes them.
session.new_session does so for every session of the program, and bounded_request runs
each request under a Deadline.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

__all__ = ["Deadline", "watch_deadlines"]

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
