"""The local Okta emulator, exercised over real loopback HTTP.

Time-dependent behaviour (rate windows, outages) runs on a fake clock handed to the emulator,
so no test sleeps to cross a window.
"""

from __future__ import annotations

import email.utils
import json
import math
import re
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from okta_risk_output.emulator import ENDPOINT, Emulator, EmulatorConfig
from okta_risk_output.units import parse_rate

TOKEN = "test-token"
START = 1_800_000_000.25  # not on a second boundary, so Reset rounding is visible
HTTP_TIMEOUT = 5.0

HIGH = {"subjects": [{"ip": "203.0.113.7", "riskLevel": "HIGH", "message": "brute force"}]}
TWO = {
    "subjects": [
        {"ip": "198.51.100.1", "riskLevel": "LOW"},
        {"ip": "2001:db8::1", "riskLevel": "MEDIUM"},
    ]
}


class WallClock:
    """Epoch seconds that move only when told; the start is off a second boundary on purpose."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


Start = Callable[..., Emulator]


@pytest.fixture
def wall() -> WallClock:
    # Not conftest's `clock`: the emulator needs only a wall clock, started off a whole second.
    return WallClock()


@pytest.fixture
def start(wall: WallClock) -> Iterator[Start]:
    """Start an emulator on the fake clock, with TOKEN required unless told otherwise."""
    running: list[Emulator] = []

    def _start(**options: Any) -> Emulator:
        options.setdefault("api_token", TOKEN)
        emulator = Emulator(EmulatorConfig(**options), clock=wall).start()
        running.append(emulator)
        return emulator

    yield _start
    for emulator in running:
        emulator.stop()


def post(
    emulator: Emulator, body: Any = None, *, data: bytes | None = None, token: str | None = TOKEN
) -> requests.Response:
    headers = {} if token is None else {"Authorization": f"SSWS {token}"}
    payload = data if data is not None else json.dumps([HIGH] if body is None else body).encode()
    headers["Content-Type"] = "application/json"
    return requests.post(
        emulator.url + ENDPOINT, data=payload, headers=headers, timeout=HTTP_TIMEOUT
    )


def assert_okta_error(response: requests.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert set(body) == {"errorCode", "errorSummary", "errorLink", "errorId", "errorCauses"}
    assert body["errorCode"] == body["errorLink"] == code
    assert re.fullmatch(r"oae[A-Za-z0-9]{22}", body["errorId"])
    return body


def rate_headers(response: requests.Response) -> tuple[int, int, int]:
    headers = response.headers
    return (
        int(headers["X-Rate-Limit-Limit"]),
        int(headers["X-Rate-Limit-Remaining"]),
        int(headers["X-Rate-Limit-Reset"]),
    )


# Accepting


def test_valid_request_is_accepted_recorded_and_counted(
    start: Start, wall: WallClock, tmp_path: Path
) -> None:
    record = tmp_path / "accepted.jsonl"
    emulator = start(record_path=record)

    response = post(emulator, [HIGH, TWO])

    assert response.status_code == 202
    assert response.content == b""
    assert email.utils.parsedate_to_datetime(response.headers["Date"]).timestamp() == int(START)
    assert response.headers["X-Okta-Request-Id"]
    assert rate_headers(response) == (30, 29, math.ceil(START + 60))
    expected = {"received_at": "2027-01-15T08:00:00.250Z", "events": [HIGH, TWO]}
    assert emulator.state.requests() == [expected]
    assert [json.loads(line) for line in record.read_text().splitlines()] == [expected]
    stats = {
        "requests": 1,
        "accepted": 1,
        "events": 2,
        "subjects": 3,
        "by_status": {"202": 1},
        "throttled": 0,
        "windows": [
            {"started_at": "2027-01-15T08:00:00.250Z", "requests": 1, "throttled": 0, "foreign": 0}
        ],
        "limit": 30,
        "window_seconds": 60.0,
    }
    assert emulator.state.stats() == stats
    assert requests.get(emulator.url + "/_emulator/stats", timeout=HTTP_TIMEOUT).json() == stats
    listed = requests.get(emulator.url + "/_emulator/requests", timeout=HTTP_TIMEOUT).json()
    assert listed == [expected]


def test_keep_alive_chunked_requests_and_prompt_stop(start: Start) -> None:
    emulator = start()
    with requests.Session() as session:
        session.headers["Authorization"] = f"SSWS {TOKEN}"
        url = emulator.url + ENDPOINT
        assert session.post(url, json=[HIGH], timeout=HTTP_TIMEOUT).status_code == 202
        chunked = iter([b'[{"subjects": ', json.dumps(HIGH["subjects"]).encode(), b"}]"])
        assert session.post(url, data=chunked, timeout=HTTP_TIMEOUT).status_code == 202
        # The session still holds an idle connection: stop() must not wait for it.
        began = time.monotonic()
        emulator.stop()
        assert time.monotonic() - began < 3
    assert emulator.state.stats()["accepted"] == 2


# Refusing


@pytest.mark.parametrize(
    "authorization",
    [None, "SSWS wrong-token", f"Bearer {TOKEN}", "SSWS ", TOKEN],
    ids=["missing", "wrong", "bearer", "empty", "no-scheme"],
)
def test_missing_or_wrong_token_is_401(start: Start, authorization: str | None) -> None:
    emulator = start()
    headers = {} if authorization is None else {"Authorization": authorization}
    response = requests.post(
        emulator.url + ENDPOINT, json=[HIGH], headers=headers, timeout=HTTP_TIMEOUT
    )

    body = assert_okta_error(response, 401, "E0000011")
    assert body["errorSummary"] == "Invalid token provided"
    assert body["errorCauses"] == []
    assert rate_headers(response)[1] == 30, "a refused token does not spend budget"
    assert emulator.state.requests() == []


def test_without_api_token_any_ssws_token_is_accepted_with_a_warning(
    start: Start, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="okta_risk_output.emulator"):
        emulator = start(api_token=None)
    assert any("any non-empty SSWS token" in r.getMessage() for r in caplog.records)
    assert post(emulator, token="whatever").status_code == 202
    assert post(emulator, token="").status_code == 401


def test_schema_invalid_body_is_400_E0000001_with_causes(start: Start) -> None:
    emulator = start()
    bad = [{"subjects": [{"ip": "10.0.0.1/8", "riskLevel": "SEVERE"}]}]

    response = post(emulator, bad)

    body = assert_okta_error(response, 400, "E0000001")
    assert body["errorSummary"] == "Api validation failed: riskEvents"
    causes = [cause["errorSummary"] for cause in body["errorCauses"]]
    assert len(causes) == 2
    assert causes[0].startswith("$[0].subjects[0].ip: '10.0.0.1/8' is not an IPv4 or IPv6")
    assert causes[1].startswith("$[0].subjects[0].riskLevel: riskLevel 'SEVERE'")
    assert rate_headers(response)[1] == 29, "a 400 still spends budget"
    assert emulator.state.requests() == []


@pytest.mark.parametrize("data", [b"not json", b'[{"subjects": [', b"\xff\xfe[]"])
def test_body_that_is_not_json_is_400_E0000003(start: Start, data: bytes) -> None:
    emulator = start()
    body = assert_okta_error(post(emulator, data=data), 400, "E0000003")
    assert body["errorSummary"] == "The request body was not well-formed."


def test_rejected_ip_refuses_the_whole_request(start: Start) -> None:
    emulator = start(reject_ips=frozenset({"2001:DB8:0::1"}))

    response = post(emulator, [HIGH, TWO])

    body = assert_okta_error(response, 400, "E0000001")
    causes = [cause["errorSummary"] for cause in body["errorCauses"]]
    assert causes == ["$[1].subjects[1].ip: 2001:db8::1 is not accepted by this org"]
    assert emulator.state.requests() == []
    assert post(emulator, [HIGH]).status_code == 202


def test_endpoint_off_answers_404_whatever_the_request(start: Start) -> None:
    emulator = start(endpoint_off=True)
    for response in (post(emulator), post(emulator, token="wrong")):
        body = assert_okta_error(response, 404, "E0000007")
        assert body["errorSummary"] == "Not found: Resource not found: /api/v1/risk/events/ip"
    assert emulator.state.stats()["by_status"] == {"404": 2}


def test_other_paths_are_404_and_other_methods_405(start: Start) -> None:
    emulator = start()
    other = requests.get(emulator.url + "/api/v1/users", timeout=HTTP_TIMEOUT)
    body = assert_okta_error(other, 404, "E0000007")
    assert body["errorSummary"] == "Not found: Resource not found: /api/v1/users"
    assert rate_headers(other) == (30, 30, math.ceil(START + 60))

    wrong_method = requests.get(emulator.url + ENDPOINT, timeout=HTTP_TIMEOUT)
    assert_okta_error(wrong_method, 405, "E0000022")
    head = requests.head(emulator.url + ENDPOINT, timeout=HTTP_TIMEOUT)
    assert head.status_code == 405
    assert head.content == b""


# Faults


def test_script_answers_in_order_then_behaves_normally(start: Start) -> None:
    emulator = start(script=(503,))
    emulator.state.script([503, 429, 202])

    first = post(emulator, token="wrong")  # faults come before auth
    throttled = post(emulator)
    scripted_ok = post(emulator)
    normal = post(emulator, token="wrong")

    assert_okta_error(first, 503, "E0000009")
    assert rate_headers(first)[1] == 30, "a scripted failure spends no budget"
    assert_okta_error(throttled, 429, "E0000047")
    assert rate_headers(throttled) == (30, 0, math.ceil(START + 60))
    assert scripted_ok.status_code == 202
    assert rate_headers(scripted_ok)[1] == 29, "a scripted success spends budget"
    assert normal.status_code == 401
    assert emulator.state.requests() == [
        {"received_at": "2027-01-15T08:00:00.250Z", "events": [HIGH]}
    ]


def test_script_can_be_replaced_over_http(start: Start) -> None:
    emulator = start()
    control = emulator.url + "/_emulator/script"

    answer = requests.post(control, json={"statuses": [500, 400]}, timeout=HTTP_TIMEOUT)
    assert answer.json() == {"statuses": [500, 400]}
    assert requests.post(control, json={"statuses": [302]}, timeout=HTTP_TIMEOUT).status_code == 400
    assert requests.post(control, data=b"[503]", timeout=HTTP_TIMEOUT).status_code == 400

    assert_okta_error(post(emulator), 500, "E0000009")
    assert_okta_error(post(emulator), 400, "E0000001")
    assert post(emulator).status_code == 202


def test_fail_rate_is_repeatable_with_a_seed(start: Start) -> None:
    def statuses() -> list[int]:
        emulator = start(fail_rate=0.5, seed=7, rate=parse_rate("100/min"))
        return [post(emulator).status_code for _ in range(20)]

    first = statuses()
    assert set(first) == {202, 503}
    assert statuses() == first


def test_latency_delays_the_answer(start: Start) -> None:
    emulator = start(latency=0.2)
    began = time.monotonic()
    assert post(emulator).status_code == 202
    assert time.monotonic() - began >= 0.2


# Rate limiting


def test_rate_limit_windows_follow_the_clock(start: Start, wall: WallClock) -> None:
    emulator = start(rate=parse_rate("3/min"), window_seconds=10.0)
    first_reset = math.ceil(START + 10)

    allowed = [post(emulator) for _ in range(3)]
    assert [r.status_code for r in allowed] == [202, 202, 202]
    assert [rate_headers(r) for r in allowed] == [(3, n, first_reset) for n in (2, 1, 0)]

    wall.advance(5)
    over = post(emulator)
    assert_okta_error(over, 429, "E0000047")
    assert rate_headers(over) == (3, 0, first_reset)
    date = email.utils.parsedate_to_datetime(over.headers["Date"]).timestamp()
    assert first_reset - date == 6, "Reset - Date is the wait a client computes"

    wall.advance(4.5)  # just before the window ends (binary fractions keep sums exact)
    assert post(emulator).status_code == 429

    wall.advance(0.5)
    fresh = post(emulator)
    assert fresh.status_code == 202
    assert rate_headers(fresh) == (3, 2, math.ceil(START + 10 + 10))

    stats = emulator.state.stats()
    assert stats["windows"] == [
        {"started_at": "2027-01-15T08:00:00.250Z", "requests": 3, "throttled": 2, "foreign": 0},
        {"started_at": "2027-01-15T08:00:10.250Z", "requests": 1, "throttled": 0, "foreign": 0},
    ]
    assert stats["throttled"] == 2
    assert stats["by_status"] == {"202": 4, "429": 2}


def test_a_window_opens_with_the_first_request_after_a_quiet_spell(
    start: Start, wall: WallClock
) -> None:
    emulator = start(rate=parse_rate("2/s"), window_seconds=1.0)
    assert post(emulator).status_code == 202
    wall.advance(7.3)  # several window lengths with no traffic
    response = post(emulator)
    assert rate_headers(response) == (2, 1, math.ceil(START + 7.3 + 1))
    assert len(emulator.state.stats()["windows"]) == 2


def test_reset_clears_records_stats_and_windows(start: Start) -> None:
    emulator = start(rate=parse_rate("1/min"))
    assert post(emulator).status_code == 202
    assert post(emulator).status_code == 429

    answer = requests.post(emulator.url + "/_emulator/reset", timeout=HTTP_TIMEOUT)

    assert answer.status_code == 200
    assert emulator.state.requests() == []
    stats = emulator.state.stats()
    assert (stats["requests"], stats["by_status"], stats["windows"]) == (0, {}, [])
    assert post(emulator).status_code == 202


# Outages


def test_outage_answers_503_only_inside_its_window(start: Start, wall: WallClock) -> None:
    emulator = start(outage_after=10.0, outage_for=5.0)
    assert post(emulator).status_code == 202

    wall.advance(10)
    assert_okta_error(post(emulator), 503, "E0000009")
    wall.advance(4.5)
    assert_okta_error(post(emulator, token="wrong"), 503, "E0000009")

    wall.advance(0.5)
    assert post(emulator).status_code == 202
    assert emulator.state.stats()["by_status"] == {"202": 2, "503": 2}


def test_outage_in_reset_mode_closes_the_connection(start: Start, wall: WallClock) -> None:
    emulator = start(outage_for=5.0, outage_mode="reset")
    with pytest.raises(requests.ConnectionError):
        post(emulator)
    wall.advance(5)
    assert post(emulator).status_code == 202
    assert emulator.state.stats()["by_status"] == {"202": 1, "reset": 1}


# The command


def _read_line(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise AssertionError(f"no line on stdout within {timeout} s")
    return process.stdout.readline()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_command_prints_its_url_serves_and_stops_cleanly(
    tmp_path: Path, signum: signal.Signals
) -> None:
    record = tmp_path / "record.jsonl"
    command = [sys.executable, "-m", "okta_risk_output", "emulator", "--port", "0"]
    options = ["--api-token", TOKEN, "--rate-limit", "5/min", "--record", str(record)]
    process = subprocess.Popen(
        command + options, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        url = _read_line(process, timeout=60).strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)

        response = requests.post(
            url + ENDPOINT,
            json=[HIGH],
            headers={"Authorization": f"SSWS {TOKEN}"},
            timeout=HTTP_TIMEOUT,
        )
        assert response.status_code == 202
        assert rate_headers(response)[:2] == (5, 4)

        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)

    assert process.returncode == 0, stderr
    assert stdout == "", "only the URL goes to stdout"
    lines = stderr.splitlines()
    assert lines
    assert all(line.split(" ", 1)[0] in ("INFO", "WARN", "ERROR") for line in lines), lines
    assert json.loads(record.read_text())["events"] == [HIGH]


def test_command_refuses_bad_options() -> None:
    command = [sys.executable, "-m", "okta_risk_output", "emulator"]
    result = subprocess.run(
        [*command, "--script", "503,abc"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert "--script" in result.stderr


def test_a_foreign_client_spends_part_of_the_budget() -> None:
    now = [START]
    config = EmulatorConfig(
        api_token=TOKEN,
        rate=parse_rate("10/s"),
        window_seconds=10.0,
        foreign_load=parse_rate("3/s"),  # 30 a window, over the limit of 10: all of it
    )
    with Emulator(config, clock=lambda: now[0]) as emu:
        answers = []
        for _ in range(3):
            answers.append(
                requests.post(
                    emu.url + ENDPOINT,
                    json=[HIGH],
                    timeout=HTTP_TIMEOUT,
                    headers={"Authorization": f"SSWS {TOKEN}"},
                )
            )
        now[0] += 2.0  # 20% of the window: the foreign client has used 6 of the 10
        late = requests.post(
            emu.url + ENDPOINT,
            json=[HIGH],
            timeout=HTTP_TIMEOUT,
            headers={"Authorization": f"SSWS {TOKEN}"},
        )
        stats = emu.state.stats()
    assert [a.status_code for a in answers] == [202, 202, 202]
    assert answers[0].headers["X-Rate-Limit-Remaining"] == "9"
    assert late.status_code == 202 and late.headers["X-Rate-Limit-Remaining"] == "0"
    assert stats["windows"][0]["foreign"] == 6


def test_the_package_loads_its_modules_only_when_a_name_is_used() -> None:
    # The CLI imports the package on every command; the HTTP server and PyJWT load only when
    # an emulator is built.
    script = """
import sys
import okta_risk_output.emulator as emulator
print(sorted(name for name in sys.modules if name.startswith("okta_risk_output.emulator.")))
emulator.Emulator
print("jwt" in sys.modules)
emulator.Emulator()
print("jwt" in sys.modules, all(getattr(emulator, name) is not None for name in emulator.__all__))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.splitlines() == ["[]", "False", "True True"], result.stderr
