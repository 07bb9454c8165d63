"""The outcome table, and the backoff policy's exact waits."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
import requests

from okta_risk_output.delivery.backoff import RetryPolicy
from okta_risk_output.delivery.retry import Action, classify
from okta_risk_output.errors import ExitStatus
from okta_risk_output.okta.answers import header_min

DATE = "Fri, 27 Nov 2026 10:00:00 GMT"  # epoch 1795773600


def response(status: int, body: Any = None, **headers: str) -> requests.Response:
    """A real requests.Response, filled in as the adapter would."""
    made = requests.Response()
    made.status_code = status
    made._content = json.dumps(body).encode() if body is not None else b""
    made.headers.update({k.replace("_", "-"): v for k, v in headers.items()})
    return made


def okta_error(code: str, summary: str, *causes: str) -> dict[str, Any]:
    return {
        "errorCode": code,
        "errorSummary": summary,
        "errorCauses": [{"errorSummary": c} for c in causes],
    }


@pytest.mark.parametrize(
    ("status", "action", "exit_status"),
    [
        (200, Action.DELIVERED, None),
        (202, Action.DELIVERED, None),
        (204, Action.DELIVERED, None),
        (301, Action.STOP, ExitStatus.ENDPOINT_MISSING),
        (307, Action.STOP, ExitStatus.ENDPOINT_MISSING),
        (400, Action.RETRY, None),  # empty, so not Okta's: tests/unit/test_answer_bodies.py
        (401, Action.STOP, ExitStatus.AUTH_FAILED),
        (403, Action.STOP, ExitStatus.PERMISSION_DENIED),
        (404, Action.STOP, ExitStatus.ENDPOINT_MISSING),
        (405, Action.STOP, ExitStatus.ENDPOINT_MISSING),
        (408, Action.RETRY, None),
        (410, Action.STOP, ExitStatus.ENDPOINT_MISSING),
        (413, Action.RETRY, None),  # empty, so not Okta's: tests/unit/test_answer_bodies.py
        (418, Action.STOP, ExitStatus.UNEXPECTED),
        (422, Action.RETRY, None),  # empty, so not Okta's: tests/unit/test_answer_bodies.py
        (429, Action.RETRY, None),
        (500, Action.RETRY, None),
        (502, Action.RETRY, None),
        (503, Action.RETRY, None),
        (504, Action.RETRY, None),
    ],
)
def test_each_status_has_one_meaning(
    status: int, action: Action, exit_status: ExitStatus | None
) -> None:
    outcome = classify(response(status))
    assert outcome.action is action
    assert outcome.exit_status is exit_status
    assert outcome.status == status


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (requests.ConnectionError("refused"), "network error talking to example.okta.com"),
        (requests.ReadTimeout("slow"), "no answer from example.okta.com within --timeout"),
        (requests.ConnectTimeout(), "no answer from example.okta.com within --timeout"),
    ],
)
def test_network_errors_are_retried(error: Exception, said: str) -> None:
    outcome = classify(None, error, url="https://example.okta.com/api/v1/risk/events/ip")
    assert outcome.action is Action.RETRY
    assert outcome.wait is None
    assert outcome.reason.startswith(said)


def test_a_429_waits_until_reset_by_the_servers_clock_plus_one_second() -> None:
    throttled = response(
        429,
        okta_error("E0000047", "API call exceeded rate limit due to too many requests."),
        Date=DATE,
        X_Rate_Limit_Limit="30",
        X_Rate_Limit_Remaining="0",
        X_Rate_Limit_Reset=str(1795773600 + 17),
    )
    outcome = classify(throttled)
    assert outcome.action is Action.RETRY
    assert outcome.wait == 18.0
    assert "E0000047" in outcome.reason


def test_a_429_wait_is_capped_and_never_negative() -> None:
    far = response(429, Date=DATE, X_Rate_Limit_Reset=str(1795773600 + 86400))
    assert classify(far, reset_wait_max=120.0).wait == 120.0
    past = response(429, Date=DATE, X_Rate_Limit_Reset=str(1795773600 - 30))
    assert classify(past).wait == 0.0


def test_a_repeated_header_counts_at_its_smallest() -> None:
    repeated = response(429, Date=DATE, X_Rate_Limit_Reset=f"{1795773600 + 50}, {1795773600 + 5}")
    assert header_min(repeated, "X-Rate-Limit-Reset") == 1795773605
    assert classify(repeated).wait == 6.0


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Date": DATE},
        {"X_Rate_Limit_Reset": "1795773617"},
        {"Date": "not a date", "X_Rate_Limit_Reset": "1795773617"},
        # A concurrency limit: Reset is only an estimate, so back off instead.
        {
            "Date": DATE,
            "X_Rate_Limit_Limit": "0",
            "X_Rate_Limit_Remaining": "0",
            "X_Rate_Limit_Reset": "1795773617",
        },
    ],
)
def test_a_429_without_a_usable_reset_falls_back_to_backoff(headers: dict[str, str]) -> None:
    outcome = classify(response(429, **headers))
    assert outcome.action is Action.RETRY
    assert outcome.wait is None


def test_a_400_carries_oktas_causes() -> None:
    body = okta_error("E0000001", "Api validation failed: riskEvents", "subjects[0].ip: bad\nip")
    outcome = classify(response(400, body))
    assert outcome.action is Action.REJECTED
    assert outcome.causes == ("subjects[0].ip: bad?ip",)


def test_a_404_names_the_deprecation() -> None:
    body = okta_error("E0000007", "Not found: Resource not found: /api/v1/risk/events/ip")
    outcome = classify(response(404, body))
    assert "E0000007" in outcome.reason
    assert "deprecated" in outcome.reason
    assert "--org-url" in outcome.reason


def test_a_401_says_what_to_check() -> None:
    outcome = classify(response(401, okta_error("E0000011", "Invalid token provided")))
    assert "OKTA_API_TOKEN" in outcome.reason


def test_a_redirect_names_its_target() -> None:
    outcome = classify(response(301, Location="https://example.okta.com/"))
    assert "https://example.okta.com/" in outcome.reason


def test_an_html_error_page_is_not_a_crash() -> None:
    page = requests.Response()
    page.status_code = 502
    page._content = b"<html>Bad gateway</html>"
    assert classify(page).reason == "HTTP 502"


def test_backoff_is_full_jitter_under_a_doubling_capped_ceiling() -> None:
    policy = RetryPolicy(backoff_base=1.0, backoff_max=60.0, rng=random.Random(7))
    ceilings = [1, 2, 4, 8, 16, 32, 60, 60, 60]
    waits = [policy.backoff(attempt) for attempt in range(len(ceilings))]
    assert all(0.0 <= w <= c for w, c in zip(waits, ceilings, strict=True))
    assert policy.backoff(10_000) <= 60.0
    # Same seed, same schedule: the policy is a value.
    again = RetryPolicy(backoff_base=1.0, backoff_max=60.0, rng=random.Random(7))
    assert [again.backoff(a) for a in range(len(ceilings))] == waits
