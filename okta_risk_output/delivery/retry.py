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

Bodies are read and parsed by okta/answers.py (a bounded prefix, JSON that never raises).

Both sides of the delivery seam (sink.py) meet here: `Action` and `Outcome` are what any
sink tells the loop, and `RetryPolicy` is the loop's backoff; `classify` is the table
above, the risk-events endpoint's (risk_events.py calls it), which another output may
reuse where its endpoint answers alike.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from okta_risk_output.errors import ExitStatus
from okta_risk_output.okta.answers import (
    cut_short_okta_error,
    describe_answer,
    header_min,
    json_object,
    okta_shaped,
    printable,
)
from okta_risk_output.okta.network_errors import describe_network_error

__all__ = ["Action", "Outcome", "classify"]

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


def classify(
    response: requests.Response | None,
    error: Exception | None = None,
    *,
    reset_wait_max: float = 120.0,
    oauth: bool = False,
    url: str = "",
    reached: bool = True,
) -> Outcome:
    """What an answer (or the error that came instead: then `url` is where the request
    went, and `reached` whether any request of this run had an answer from there) means."""
    if response is None:
        return Outcome(Action.RETRY, describe_network_error(error, url, reached=reached))
    status = response.status_code
    request_id = response.headers.get("X-Okta-Request-Id")
    if 200 <= status < 300:  # the body is never needed: nothing in it can stop the ack
        return Outcome(Action.DELIVERED, "accepted", status, request_id=request_id)
    body = json_object(response) or cut_short_okta_error(response.content)
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
    if status in (400, 413, 422) and not okta_shaped(body):
        # An HTML page, an empty body, someone else's JSON: a proxy, WAF or load balancer
        # answered, and it says nothing about the events, so none may be dead-lettered.
        return Outcome(
            Action.RETRY,
            f"HTTP {status} that is not Okta's ({describe_answer(response)}): something "
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
