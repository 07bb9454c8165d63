"""The one place that decides what an answer from Okta means, and how long to wait.

202 (any 2xx)        delivered
429                  retry after X-Rate-Limit-Reset - Date + 1 s (the server's clock,
                     capped); a concurrency 429 (Limit=0, Remaining=0) or missing
                     headers fall back to backoff
408, 5xx, network    retry with capped exponential backoff and full jitter
400, 413, 422        rejected: bisect the batch, dead-letter only the guilty events; only
                     when Okta said so (a JSON object with errorCode): anything else is a
                     proxy's, WAF's or load balancer's answer, retried and marked foreign
401                  stop: the credential
403                  stop: permission
404, 405, 410, 3xx   stop: wrong org URL, or Okta switched the endpoint off
other 4xx            stop: unknown, so nothing is dropped by guessing

Bodies are read through `read_answer` (a bounded prefix) and parsed by `json_object`, which
never raises: one home for every answer this program reads (Okta, its token endpoint,
splunkd).
"""

from __future__ import annotations

import enum
import json
import random
import re
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from okta_risk_output.depth import nests_deeper_than
from okta_risk_output.errors import ExitStatus

__all__ = [
    "MAX_ANSWER_BYTES",
    "Action",
    "Outcome",
    "RetryPolicy",
    "classify",
    "header_min",
    "json_object",
    "printable",
    "read_answer",
]

MAX_ANSWER_BYTES = 64 * 1024
"""Okta's answers are a few hundred bytes; no more than this of any body is read or parsed
(a 2 GB body once took 4.3 GB of memory)."""
MAX_JSON_DEPTH = 32
"""Okta's bodies nest 3 deep; a deeper one is not taken as JSON (100,000 deep once crashed
the process with a RecursionError before the ack, on every restart)."""
MAX_CAUSES = 10
"""errorCauses kept per answer; the rest are counted ("... and N more"). Each goes into the
dead-letter entry and the log line of every signal of a rejected request."""
CAUSE_CHARS = 200
"""Characters kept per cause, so the causes of one answer stay under about 2 K characters."""

_DEPRECATION_HINT = (
    "Okta deprecated POST /api/v1/risk/events/ip and removed it from its API spec in 2025, "
    "so the org may have switched it off; the supported successor is the Shared Signals "
    "Framework (see docs/migration.md)"
)


_OAUTH_HINT = (
    "Okta refused a freshly issued OAuth access token; check that the service app is active, "
    "granted okta.riskEvents.manage and an admin role, and that its client id is the risk "
    "provider's clientId"
)


class Action(enum.Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    REJECTED = "rejected"
    STOP = "stop"


@dataclass(frozen=True)
class Outcome:
    action: Action
    reason: str
    status: int | None = None
    wait: float | None = None
    """Server-directed wait before the retry; None means: use the backoff policy."""
    causes: tuple[str, ...] = ()
    """Okta's errorCauses[].errorSummary, bounded, for the dead-letter file and logs."""
    every_cause: tuple[str, ...] = ()
    """All of them (from a body of at most MAX_ANSWER_BYTES, each cut to CAUSE_CHARS): only
    to find the subjects they name, never stored or logged whole."""
    exit_status: ExitStatus | None = None
    request_id: str | None = None
    foreign: bool = False
    """The answer did not come from Okta: a proxy, WAF or load balancer. The deliverer
    stops (ExitStatus.NOT_OKTA) after a few in a row rather than retrying for ever."""


@dataclass(frozen=True)
class RetryPolicy:
    """How long to wait between attempts. Immutable; sleeping happens elsewhere."""

    backoff_base: float = 1.0
    backoff_max: float = 60.0
    reset_wait_max: float = 120.0
    """Cap on a server-directed wait, so a bad Reset header cannot park us for hours."""
    max_retry_age: float | None = None
    """Give a batch up (dead-letter it) once it has been retried this long; None: never."""
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def backoff(self, attempt: int) -> float:
        """Full jitter: uniform(0, min(max, base * 2**attempt)); attempt counts from 0."""
        ceiling = min(self.backoff_max, self.backoff_base * (2 ** min(attempt, 30)))
        return self.rng.uniform(0.0, ceiling)


def classify(
    response: requests.Response | None,
    error: Exception | None = None,
    *,
    reset_wait_max: float = 120.0,
    oauth: bool = False,
) -> Outcome:
    if response is None:
        kind = type(error).__name__ if error else "no response"
        return Outcome(Action.RETRY, f"network error ({kind}): {printable(str(error), 300)}")
    status = response.status_code
    request_id = response.headers.get("X-Okta-Request-Id")
    if 200 <= status < 300:  # the body is never needed: nothing in it can stop the ack
        return Outcome(Action.DELIVERED, "accepted", status, request_id=request_id)
    body = json_object(response) or _cut_short_okta_error(response.content)
    summary = _summary(status, body)
    if status == 429:
        return Outcome(
            Action.RETRY,
            summary,
            status,
            wait=_rate_limit_wait(response, reset_wait_max),
            request_id=request_id,
        )
    if status == 408 or status >= 500:
        return Outcome(Action.RETRY, summary, status, request_id=request_id)
    if status == 400 and "error" in body and "errorCode" not in body:
        # An OAuth-shaped 400 (invalid_dpop_proof, invalid_request) is about the credential,
        # not the events: bisecting would dead-letter good events.
        detail = printable(f"{body.get('error')}: {body.get('error_description', '')}")
        return Outcome(
            Action.STOP,
            f"HTTP 400 {detail}: {_OAUTH_HINT}",
            status,
            exit_status=ExitStatus.AUTH_FAILED,
            request_id=request_id,
        )
    if status in (400, 413, 422) and not _okta_shaped(body):
        # An HTML page, an empty body, someone else's JSON: a proxy, WAF or load balancer
        # answered, and it says nothing about the events, so none may be dead-lettered.
        return Outcome(
            Action.RETRY,
            f"HTTP {status} that is not Okta's ({_describe_answer(response)}): something "
            "between us and Okta (a proxy, WAF or load balancer) answered; nothing is "
            "dead-lettered",
            status,
            request_id=request_id,
            foreign=True,
        )
    if status in (400, 413, 422):
        every = _every_cause(body)
        return Outcome(
            Action.REJECTED,
            summary,
            status,
            causes=_bounded(every),
            every_cause=every,
            request_id=request_id,
        )
    stop, hint = _stop_hint(status, response, oauth)
    return Outcome(
        Action.STOP, f"{summary}: {hint}", status, exit_status=stop, request_id=request_id
    )


def _stop_hint(status: int, response: requests.Response, oauth: bool) -> tuple[ExitStatus, str]:
    if status == 401 and oauth:
        return ExitStatus.AUTH_FAILED, _OAUTH_HINT
    if status == 401:
        return ExitStatus.AUTH_FAILED, (
            "Okta rejected the credential; check OKTA_API_TOKEN or --api-token-file, and that "
            "the token and the admin who created it are still active"
        )
    if status == 403:
        return ExitStatus.PERMISSION_DENIED, (
            "the credential may not send risk events; an API token needs an admin allowed to "
            "manage risk events, an OAuth app needs the okta.riskEvents.manage scope"
        )
    if status in (404, 405, 410):
        return ExitStatus.ENDPOINT_MISSING, (
            f"check --org-url (it must be the org's base URL, e.g. https://example.okta.com); "
            f"if it is right, {_DEPRECATION_HINT}"
        )
    if 300 <= status < 400:
        target = response.headers.get("Location", "elsewhere")
        return ExitStatus.ENDPOINT_MISSING, (
            f"the org URL redirects to {target}; set --org-url to the final address"
        )
    return ExitStatus.UNEXPECTED, "unexpected answer; delivery stopped so that nothing is dropped"


def header_min(response: requests.Response, name: str) -> int | None:
    """The smallest integer value of a header that may repeat (requests joins repeats with ',')."""
    raw = response.headers.get(name)
    if raw is None:
        return None
    values = []
    for part in raw.split(","):
        text = part.strip()
        # At most 15 digits: int() takes thousands, and such a number mixed with a float
        # (a Reset minus the time) raises OverflowError. No real header comes near it.
        if len(text.lstrip("+-")) > _HEADER_DIGITS:
            continue
        try:
            values.append(int(text))
        except ValueError:
            continue
    return min(values) if values else None


_HEADER_DIGITS = 15


def _rate_limit_wait(response: requests.Response, cap: float) -> float | None:
    limit = header_min(response, "X-Rate-Limit-Limit")
    remaining = header_min(response, "X-Rate-Limit-Remaining")
    if limit == 0 and remaining == 0:
        return None  # a concurrency limit: its Reset is only an estimate
    reset = header_min(response, "X-Rate-Limit-Reset")
    date = response.headers.get("Date")
    if reset is None or date is None:
        return None
    try:
        server_now = parsedate_to_datetime(date).timestamp()
    except (TypeError, ValueError, OverflowError):
        return None
    # Measured on the server's clock, +1 s for skew, as Okta's own SDKs do.
    return min(cap, max(0.0, reset - server_now + 1.0))


def read_answer(response: requests.Response, limit: int = MAX_ANSWER_BYTES) -> bytes:
    """Read a streamed answer's body, at most `limit` + 1 bytes, and close the response.

    A longer body is not drained: closing the response closes its connection. The prefix
    becomes `response.content`, so `.content`, `.text` and `.json()` work as usual; one
    byte past `limit` is kept so that `json_object` can tell the body was cut short.
    """
    data = bytearray()
    try:
        for chunk in response.iter_content(chunk_size=16 * 1024):
            data += chunk
            if len(data) > limit:
                break
    finally:
        response.close()
    response._content = bytes(data[: limit + 1])
    return response._content


def json_object(response: requests.Response, limit: int = MAX_ANSWER_BYTES) -> dict[str, Any]:
    """The answer's body when it is a JSON object, else {} (an HTML error page, nothing).

    Never raises: a body longer than `limit` (cut short), not UTF-8, not JSON, or nested
    deeper than MAX_JSON_DEPTH is no JSON object to us. A streamed response must have been
    read with `read_answer` first.
    """
    content = response.content
    if not content or len(content) > limit:
        return {}
    try:
        body = json.loads(content.decode("utf-8"))  # Okta speaks UTF-8 (RFC 8259)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return {}
    if not isinstance(body, dict) or nests_deeper_than(body, MAX_JSON_DEPTH):
        return {}
    return body


_CUT_OKTA_ERROR = re.compile(
    rb'\s*\{\s*"errorCode"\s*:\s*"([A-Za-z0-9_]{1,32})"'
    rb'(?:\s*,\s*"errorSummary"\s*:\s*("(?:[^"\\]|\\.){0,1000}"))?'
)


def _cut_short_okta_error(content: bytes) -> dict[str, Any]:
    """An Okta error body longer than MAX_ANSWER_BYTES (thousands of causes) was cut short,
    so it is no JSON; but Okta sends errorCode and errorSummary first, and they still say
    the answer is Okta's. Bisection then goes on to single events, whose answers are small.
    """
    found = _CUT_OKTA_ERROR.match(content) if len(content) > MAX_ANSWER_BYTES else None
    if found is None:
        return {}
    try:
        summary = json.loads(found.group(2) or b'""')
    except ValueError:
        summary = ""
    return {
        "errorCode": found.group(1).decode("ascii"),
        "errorSummary": f"{summary} (the rest of the answer, over "
        f"{MAX_ANSWER_BYTES >> 10} KiB, was not read)".lstrip(),
    }


def _okta_shaped(body: dict[str, Any]) -> bool:
    """Okta's error bodies always carry an errorCode (E0000001, ...)."""
    code = body.get("errorCode")
    return isinstance(code, str) and bool(code.strip())


def _describe_answer(response: requests.Response) -> str:
    """What answered, for an operator hunting the proxy: Content-Type, Server, and the
    page's <title> or the first printable characters of its body."""
    headers = response.headers
    parts = [f"Content-Type {printable(headers.get('Content-Type') or 'none', 80)}"]
    server = headers.get("Server")
    if server:
        parts.append(f"Server {printable(server, 80)}")
    head = (response.content or b"")[:MAX_ANSWER_BYTES]
    title = _title(head)
    if title:
        parts.append(f"title {title!r}")
    else:
        text = printable(" ".join(head[:4096].decode("utf-8", "replace").split()), 100)
        blank = f"a blank body of {len(head)}+ bytes" if head else "an empty body"
        parts.append(f"body {text!r}" if text else blank)
    return ", ".join(parts)


def _title(page: bytes) -> str:
    """An HTML page's <title>; found with find(), not a regex, to stay linear."""
    lower = page.lower()
    start = lower.find(b"<title")
    opened = lower.find(b">", start) if start >= 0 else -1
    end = lower.find(b"</title", opened) if opened >= 0 else -1
    if end < 0:
        return ""
    text = page[opened + 1 : end].decode("utf-8", "replace")
    return printable(" ".join(text.split()), 100)


def _summary(status: int, body: dict[str, Any]) -> str:
    code = body.get("errorCode")
    text = body.get("errorSummary")
    if code or text:
        return f"HTTP {status} {code or ''} {printable(text or '')}".rstrip()
    return f"HTTP {status}"


def _every_cause(body: dict[str, Any]) -> tuple[str, ...]:
    causes = body.get("errorCauses")
    if not isinstance(causes, list):
        return ()
    summaries = [c.get("errorSummary", "") for c in causes if isinstance(c, dict)]
    return tuple(printable(str(s), CAUSE_CHARS) for s in summaries)


def _bounded(causes: tuple[str, ...]) -> tuple[str, ...]:
    """Okta's errorCauses, bounded: they feed the dead-letter entry and the log line of every
    signal of the request (2,000 causes once made 19 MB of dead-letter for 20 signals)."""
    kept = causes[:MAX_CAUSES]
    more = len(causes) - len(kept)
    return kept + ((f"... and {more} more",) if more > 0 else ())


def printable(text: str, limit: int = 500) -> str:
    """Okta may echo input in error text: keep it printable and short."""
    # Cut first: one character in gives one out, and the text may be long.
    return "".join(c if c.isprintable() else "?" for c in str(text)[:limit])
