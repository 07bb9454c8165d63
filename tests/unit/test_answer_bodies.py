"""What any answer's body may do to us: nothing (issue 11, cases 6, 7 and 8).

Bodies are parsed safely (a deep, broken, huge or non-UTF-8 one is simply not JSON), Okta's
error causes stay few and short, and only an Okta-shaped 4xx may condemn events: a proxy's
page is a delivery problem, retried and marked foreign. The same bodies over real HTTP are
in tests/integration/test_hostile_answers.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from okta_risk_output.delivery.retry import Action, classify
from okta_risk_output.errors import ExitStatus
from okta_risk_output.okta import answers
from okta_risk_output.okta.answers import json_object

BOUND = 64 * 1024
"""okta.answers.MAX_ANSWER_BYTES, spelled out so that each test fails for its own reason before."""
DEEP = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 50_000 + b"1" + b"}" * 50_000


def answer(status: int, content: bytes, **headers: str) -> requests.Response:
    made = requests.Response()
    made.status_code = status
    made._content = content
    made.headers.update({k.replace("_", "-"): v for k, v in headers.items()})
    return made


def okta_400(causes: list[Any]) -> bytes:
    body = {
        "errorCode": "E0000001",
        "errorSummary": "Api validation failed: riskEvents",
        "errorCauses": causes,
    }
    return json.dumps(body).encode()


@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT], ids=["array", "object"])
def test_a_202_nested_100000_deep_is_delivered_not_a_crash(body: bytes) -> None:
    # Before: RecursionError, exit 1 before the ack, and the same on every restart.
    assert classify(answer(202, body)).action is Action.DELIVERED
    assert json_object(answer(202, body)) == {}
    assert classify(answer(400, body)).action is Action.RETRY  # not Okta-shaped either


@pytest.mark.parametrize(
    "content",
    [
        b'{"errorCode": "E0000001", "errorSummary": "caf\xe9"}',  # Latin-1, not UTF-8
        b'{"errorCode": "E0000001", "errorSum',  # cut short
        b'{"errorCode": "E0000001", "x": ' + b"[" * 50 + b"]" * 50 + b"}",  # parses, too deep
        json.dumps({"errorCode": "E0000001", "pad": "x" * BOUND}).encode(),  # too big
    ],
    ids=["not-utf8", "truncated", "too-deep", "over-the-bound"],
)
def test_an_unparseable_or_oversized_body_is_not_json(content: bytes) -> None:
    assert json_object(answer(400, content, Content_Type="application/json")) == {}


def test_a_normal_okta_body_still_parses() -> None:
    body = json_object(answer(400, okta_400([{"errorSummary": "subjects[0].ip: bad"}])))
    assert body["errorCode"] == "E0000001"


def test_two_thousand_error_causes_keep_ten_and_a_count() -> None:
    causes = [{"errorSummary": f"e{n}"} for n in range(2_000)]
    outcome = classify(answer(400, okta_400(causes)), None)
    assert outcome.action is Action.REJECTED
    assert outcome.causes == (*(f"e{n}" for n in range(10)), "... and 1990 more")


def test_long_causes_are_cut_and_stay_small_in_total() -> None:
    causes = [{"errorSummary": f"subjects[{n}].ip: {'x' * 1_000}"} for n in range(50)]
    outcome = classify(answer(400, okta_400(causes)), None)
    assert outcome.action is Action.REJECTED
    assert len(outcome.causes) == 11 and outcome.causes[-1] == "... and 40 more"
    assert all(len(cause) <= 200 for cause in outcome.causes)
    assert sum(len(c.encode()) for c in outcome.causes) <= 2_100


def test_an_okta_error_cut_short_by_the_bound_is_still_oktas() -> None:
    # Thousands of causes can make Okta's own answer longer than what is read of it.
    causes = [{"errorSummary": f"subjects[{n}].ip: {'x' * 450}"} for n in range(2_000)]
    content = okta_400(causes)[: BOUND + 1]  # what read_answer keeps
    outcome = classify(answer(400, content, Content_Type="application/json"))
    assert outcome.action is Action.REJECTED and outcome.foreign is False
    assert "E0000001 Api validation failed: riskEvents" in outcome.reason
    assert "was not read" in outcome.reason


def test_few_causes_are_kept_whole() -> None:
    outcome = classify(answer(400, okta_400([{"errorSummary": "a"}, {"errorSummary": "b"}])))
    assert outcome.causes == ("a", "b")


@pytest.mark.parametrize(
    ("status", "content", "headers", "shown"),
    [
        (
            400,
            b"<html><head><title>400 Bad Request</title></head><body>cloudflare</body></html>",
            {"Content_Type": "text/html", "Server": "cloudflare"},
            ["HTTP 400", "text/html", "Server cloudflare", "'400 Bad Request'"],
        ),
        (400, b"", {}, ["HTTP 400", "Content-Type none", "an empty body"]),
        (
            400,
            b'{"message": "Request blocked by WAF rule 942100"}',
            {"Content_Type": "application/json", "Server": "awselb/2.0"},
            ["awselb/2.0", "Request blocked by WAF rule 942100"],
        ),
        (
            413,
            b"<html><head><title>413 Request Entity Too Large</title></head></html>",
            {"Content_Type": "text/html", "Server": "nginx/1.25.3"},
            ["HTTP 413", "nginx/1.25.3", "413 Request Entity Too Large"],
        ),
        (422, b"Unprocessable\x00\x01 by the gateway", {"Content_Type": "text/plain"}, ["422"]),
    ],
    ids=["waf-html", "empty", "json-without-errorCode", "proxy-413", "plain-422"],
)
def test_a_4xx_that_is_not_oktas_condemns_nothing_and_names_what_answered(
    status: int, content: bytes, headers: dict[str, str], shown: list[str]
) -> None:
    outcome = classify(answer(status, content, **headers))
    assert outcome.action is Action.RETRY
    assert outcome.foreign is True
    assert outcome.causes == ()
    assert outcome.status == status
    for part in shown:
        assert part in outcome.reason
    assert "proxy, WAF or load balancer" in outcome.reason
    assert outcome.reason.isprintable() and len(outcome.reason) < 600


def test_a_foreign_bodys_text_is_cut_to_about_a_hundred_characters() -> None:
    outcome = classify(answer(400, b"y" * 50_000, Content_Type="text/plain"))
    assert outcome.foreign and "y" * 100 in outcome.reason and "y" * 101 not in outcome.reason


@pytest.mark.parametrize("status", [400, 413, 422])
def test_an_okta_shaped_4xx_still_rejects_the_events(status: int) -> None:
    outcome = classify(answer(status, okta_400([{"errorSummary": "subjects[0].ip: bad"}])))
    assert outcome.action is Action.REJECTED
    assert getattr(outcome, "foreign", False) is False  # a guard: this held before too


def test_an_oauth_shaped_400_is_still_about_the_credential() -> None:
    body = json.dumps({"error": "invalid_dpop_proof", "error_description": "bad"}).encode()
    outcome = classify(answer(400, body, Content_Type="application/json"), oauth=True)
    assert outcome.action is Action.STOP
    assert outcome.exit_status is ExitStatus.AUTH_FAILED
    assert getattr(outcome, "foreign", False) is False  # a guard: this held before too


def test_exit_status_7_means_something_other_than_okta_keeps_answering() -> None:
    assert ExitStatus.NOT_OKTA.value == 7
    assert "something other than Okta" in ExitStatus.NOT_OKTA.meaning
    assert "proxy, WAF or load balancer" in ExitStatus.NOT_OKTA.meaning


def test_at_most_64_kib_of_an_answer_is_read() -> None:
    assert getattr(answers, "MAX_ANSWER_BYTES", None) == BOUND
