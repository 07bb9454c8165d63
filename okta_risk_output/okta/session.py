"""HTTP sessions and requests: `new_session()`, where every requests.Session of the program
comes from, and `bounded_request()`, how every request of the program is made.

A session from `new_session` sends our User-Agent (the API's, the token endpoint's and
splunkd's requests alike) and has the deadline watchdog mounted (deadline.py).
`bounded_request` then runs one request under a Deadline: connecting, sending and the full
answer end within its time, redirects are never followed, and only a bounded prefix of the
answer is read (answers.read_answer); the rest is not drained, its connection is closed.
When the time runs out, the request raises `requests.Timeout`, retried like any network
error.
"""

from __future__ import annotations

import http.client
import platform
from typing import Any

import requests
import urllib3

from okta_risk_output import __version__
from okta_risk_output.okta.answers import MAX_ANSWER_BYTES, read_answer
from okta_risk_output.okta.deadline import Deadline, watch_deadlines

__all__ = ["HeaderRefused", "bounded_request", "new_session", "prepare_session", "user_agent"]


def user_agent() -> str:
    return (
        f"okta-risk-output/{__version__} python-requests/{requests.__version__} "
        f"python/{platform.python_version()}"
    )


def new_session(*, ca_bundle: str | None = None) -> requests.Session:
    """A session for any server this program talks to. TLS is verified against `ca_bundle`
    when given, else as requests does (which honours REQUESTS_CA_BUNDLE, HTTPS_PROXY and
    NO_PROXY)."""
    session = requests.Session()
    if ca_bundle:
        session.verify = ca_bundle
    return prepare_session(session)


def prepare_session(session: requests.Session) -> requests.Session:
    """Give a session built elsewhere (a test's, or one a caller configured) what
    `new_session` gives its own: our User-Agent and the watchdog. Returns the session."""
    session.headers["User-Agent"] = user_agent()
    return watch_deadlines(session)


class HeaderRefused(ValueError):
    """A header value (the credential, in practice) has characters HTTP does not allow.

    The error it replaces quotes the value, so it is neither quoted nor chained.
    """


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
    most `limit` (+1) bytes are read. The session must be one from `new_session` (or
    `prepare_session`).

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
