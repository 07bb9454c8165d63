"""Delivery that keeps its promises when processes share a spool, stall, or meet answers
that are broken or hostile (issue 11): the emulator or a small hostile server on loopback,
a real spool file, and a fake clock for every wait that matters."""

from __future__ import annotations

import io
import itertools
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import datetime
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

from okta_risk_output.emulator import Emulator
from okta_risk_output.errors import ExitStatus
from okta_risk_output.okta.auth import SswsAuth
from okta_risk_output.okta.client import OktaClient
from okta_risk_output.okta.secret import Secret
from okta_risk_output.shipper import Shipper
from okta_risk_output.spool.sqlite import Spool
from tests.support import TOKEN, FakeClock, emulator, make_settings


def fill(path: Path, count: int, *, level: str = "LOW", now: float) -> None:
    spool = Spool(str(path))
    for n in range(count):
        event = {"subjects": [{"ip": f"2001:db8::{n + 1:x}", "riskLevel": level}]}
        spool.put(event, source="t", line=n + 1, now=now)
    spool.close()


def shipper(tmp_path: Path, url: str, clock: FakeClock, **options: Any) -> Shipper:
    options.setdefault("rate_limit", "100000/s")
    return Shipper(make_settings(tmp_path, url, **options), clock=clock)


def drained(
    tmp_path: Path, url: str, clock: FakeClock, duration: float | None = None, **options: Any
) -> tuple[ExitStatus, Shipper, int]:
    """A drain of the spool in tmp_path: (its exit status, the shipper, signals left)."""
    run = shipper(tmp_path, url, clock, **options)
    try:
        status = run.drain(duration=duration) if duration else run.drain()
        return status, run, run.spool.live()
    finally:
        run.close()


class HookClient(OktaClient):
    """The real client; `before(n)` runs before the n-th POST (from 1), as another process
    acting meanwhile would."""

    def __init__(self, url: str, before: Callable[[int], None]) -> None:
        super().__init__(url, SswsAuth(Secret(TOKEN)))
        self.before = before
        self.posts = 0

    def post(self, events: list[dict[str, Any]]) -> requests.Response:
        self.posts += 1
        self.before(self.posts)
        return super().post(events)


def subjects(emu: Emulator) -> list[dict[str, Any]]:
    return [s for r in emu.state.requests() for e in r["events"] for s in e["subjects"]]


# -- 1. a late process changes nothing, and says so once ----------------------------------


def test_a_process_whose_lease_was_taken_over_changes_nothing_and_says_so_once(
    tmp_path: Path, clock: FakeClock, logs: io.StringIO
) -> None:
    fill(tmp_path / "spool.db", 3, now=clock.time())
    other = Spool(str(tmp_path / "spool.db"))
    taken: list[Any] = []

    def stall(_post: int) -> None:
        # This process stalls past its lease mid-request; another takes the signals over.
        taken.append(other.lease(clock.time() + 10_000, 60, lambda c: c))

    with emulator() as emu:
        run = shipper(tmp_path, emu.url, clock)
        run._client = HookClient(emu.url + "/", stall)
        try:
            status = run.drain(duration=5)
        finally:
            run.close()
    assert status is ExitStatus.OK
    assert taken[0] is not None and len(taken[0].signals) == 3
    assert other.live() == 3  # its 202 removed nothing: the other process holds them
    assert run.counters.delivered == 0 and run.counters.taken_over == 3
    assert logs.getvalue().count("no longer held by this process's lease") == 1
    assert other.ack(taken[0], taken[0].signals) == 3


# -- 3. a lease outlives its holder's legitimate waits -------------------------------------


def test_a_lease_is_renewed_while_its_holder_waits_out_a_two_minute_reset(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "spool.db"
    fill(path, 5, level="HIGH", now=clock.time())
    other = Spool(str(path))
    other.defer_sending(clock.time() + 120)  # another process saw a 429 with a 2-min Reset
    took_over: list[Any] = []
    checks = [clock.time() + t for t in (60, 95, 115)]  # past a 90 s lease, before the send

    original_sleep = clock.sleep

    def sleep(seconds: float, wake: threading.Event | None = None) -> None:
        original_sleep(seconds, wake)
        while checks and clock.time() >= checks[0]:
            checks.pop(0)
            took_over.append(other.lease(clock.time(), 60, lambda c: c))

    clock.sleep = sleep  # type: ignore[method-assign]
    with emulator() as emu:
        status, _run, _left = drained(tmp_path, emu.url, clock)
        assert status is ExitStatus.OK
        received = subjects(emu)
    assert not checks and took_over == [None, None, None]
    assert len(received) == 5  # each sent once, by the process that waited


# -- 4. one window for every process on the spool -------------------------------------------


def test_two_drains_on_one_spool_never_exceed_the_rate_in_any_window(tmp_path: Path) -> None:
    """Alone, each process kept the rate; together they sent one more per window."""
    path = tmp_path / "spool.db"
    fill(path, 16, level="HIGH", now=datetime.now().timestamp())
    with emulator() as emu:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OKTA_")}
        env.update({"OKTA_ORG_URL": emu.url, "OKTA_API_TOKEN": TOKEN})
        command = [
            sys.executable, "-m", "okta_risk_output", "drain", "--until-empty",
            "--spool", str(path), "--dead-letter", str(tmp_path / "dl.jsonl"),
            "--rate-limit", "4/s", "--max-events-per-request", "1",
            "--max-subjects-per-event", "1",
        ]  # fmt: skip
        drains = [
            subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(2)
        ]
        for drain in drains:
            _, err = drain.communicate(timeout=120)
            assert drain.returncode == 0, err.decode()
        arrivals = sorted(
            datetime.fromisoformat(r["received_at"].replace("Z", "+00:00")).timestamp()
            for r in emu.state.requests()
        )
    assert len(arrivals) == 16
    for at in arrivals:
        within = [a for a in arrivals if at <= a < at + 1.0]
        assert len(within) <= 4, (at, within)


# -- small hostile servers --------------------------------------------------------------


class Hostile:
    """A server on loopback answering every POST with `answer(body)`: (status, headers,
    body). It keeps the bodies it was sent."""

    def __init__(self, answer: Callable[[bytes], tuple[int, dict[str, str], bytes]]) -> None:
        parent = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                sent = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                parent.bodies.append(sent)
                status, headers, body = answer(sent)
                parent.posts += 1
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                pass

        self.posts = 0
        self.bodies: list[bytes] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Hostile:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


# -- 5. times from outside are capped ---------------------------------------------------


def test_a_reset_in_the_year_5138_waits_two_minutes_with_one_warning(
    tmp_path: Path, clock: FakeClock, logs: io.StringIO
) -> None:
    fill(tmp_path / "spool.db", 3, level="HIGH", now=clock.time())
    sent_at: list[float] = []

    def answer(_body: bytes) -> tuple[int, dict[str, str], bytes]:
        sent_at.append(clock.time())
        headers = {
            "Date": formatdate(clock.time(), usegmt=True),
            "X-Rate-Limit-Limit": "30",
            "X-Rate-Limit-Remaining": "0",
            "X-Rate-Limit-Reset": "99999999999",
        }
        return 202, headers, b""

    with Hostile(answer) as server:
        status, _run, _left = drained(
            tmp_path, server.url, clock, 600, max_events_per_request="1", max_subjects_per_event="1"
        )
        assert status is ExitStatus.OK
    assert len(sent_at) == 3
    gaps = [b - a for a, b in itertools.pairwise(sent_at)]
    assert all(100 <= gap <= 125 for gap in gaps), gaps
    assert logs.getvalue().count("X-Rate-Limit-Reset says") == 1


# -- 8. an answer that is not Okta's condemns nothing ---------------------------------------


def test_a_proxys_html_400_dead_letters_nothing_and_stops_delivery_with_exit_7(
    tmp_path: Path, clock: FakeClock, logs: io.StringIO
) -> None:
    fill(tmp_path / "spool.db", 20, now=clock.time())
    page = b"<html><head><title>Request blocked</title></head><body>WAF</body></html>"

    def answer(_body: bytes) -> tuple[int, dict[str, str], bytes]:
        return 400, {"Content-Type": "text/html", "Server": "BigIP"}, page

    with Hostile(answer) as server:
        status, _run, left = drained(tmp_path, server.url, clock)
    assert status is ExitStatus.NOT_OKTA
    assert left == 20 and server.posts == 5
    assert not (tmp_path / "dead.jsonl").exists() or not (tmp_path / "dead.jsonl").read_text()
    assert "did not come from Okta" in logs.getvalue()


# -- 9. bisection has a budget ---------------------------------------------------------------


def test_a_request_okta_rejects_as_a_whole_costs_about_log2_n_requests(
    tmp_path: Path, clock: FakeClock
) -> None:
    """Every subject rejected: plain bisection cost 2n - 1 = 1,999 requests."""
    fill(tmp_path / "spool.db", 1000, now=clock.time())
    with emulator(script=(400,) * 100) as emu:
        status, run, _left = drained(tmp_path, emu.url, clock)
        assert status is ExitStatus.OK
        answered = emu.state.stats()
    counts = run.counters.snapshot()
    assert counts["rejected"] == 1000 and counts["requests"] <= 14, counts
    assert len(emu.state.scripted()) == 100 - counts["requests"], answered
    entries = (tmp_path / "dead.jsonl").read_text().splitlines()
    assert len(entries) == 1000


def test_okta_rejecting_request_after_request_as_a_whole_stops_before_the_backlog_follows(
    tmp_path: Path, clock: FakeClock, logs: io.StringIO
) -> None:
    """An org-wide refusal (a provider switched off, say) is no reason to move every
    spooled signal into the dead-letter file."""
    fill(tmp_path / "spool.db", 2000, now=clock.time())
    with emulator(script=(400,) * 100) as emu:
        status, run, left = drained(tmp_path, emu.url, clock)
    counts = run.counters.snapshot()
    assert status is ExitStatus.UNEXPECTED
    assert counts["rejected"] == 1003 and left == 997, (counts, left)
    assert counts["requests"] <= 26
    assert "two requests in a row as a whole" in logs.getvalue()


def test_causes_that_name_subjects_condemn_exactly_those_in_two_requests(
    tmp_path: Path, clock: FakeClock
) -> None:
    fill(tmp_path / "spool.db", 1000, now=clock.time())
    bad = {"2001:db8::7", "2001:db8::1f4", "2001:db8::3e8"}
    with emulator(reject_ips=frozenset(bad)) as emu:
        status, run, _left = drained(tmp_path, emu.url, clock)
        assert status is ExitStatus.OK
        received = subjects(emu)
    counts = run.counters.snapshot()
    assert (counts["requests"], counts["rejected"], counts["delivered"]) == (2, 3, 997)
    assert not bad & {s["ip"] for s in received}
    dead = [json.loads(line) for line in (tmp_path / "dead.jsonl").read_text().splitlines()]
    assert {d["event"]["subjects"][0]["ip"] for d in dead} == bad


def test_a_high_arriving_during_a_long_bisection_goes_before_it_ends(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "spool.db"
    fill(path, 64, now=clock.time())
    other = Spool(str(path))
    refusal = json.dumps(
        {"errorCode": "E0000001", "errorSummary": "Api validation failed", "errorCauses": []}
    ).encode()

    def answer(body: bytes) -> tuple[int, dict[str, str], bytes]:
        if len(server.bodies) == 2:  # the search has begun: a HIGH comes in from intake
            event = {"subjects": [{"ip": "198.51.100.99", "riskLevel": "HIGH"}]}
            other.put(event, source="t", line=99, now=clock.time())
        if b'"2001:db8::1"' in body:  # Okta refuses one LOW, without saying which
            return 400, {"Content-Type": "application/json"}, refusal
        return 202, {}, b""

    with Hostile(answer) as server:
        status, run, _left = drained(tmp_path, server.url, clock)
        assert status is ExitStatus.OK
    levels = [
        [s["riskLevel"] for e in json.loads(body) for s in e["subjects"]] for body in server.bodies
    ]
    high = levels.index(["HIGH"])
    assert high == 2, levels  # right after the request during which it arrived
    assert len(levels) > high + 4  # while the search among LOW still had far to go
    assert run.counters.snapshot()["rejected"] == 1


# -- found by a second reader ----------------------------------------------------------------


def test_rate_limit_headers_of_400_digits_are_ignored_not_a_crash_before_the_ack(
    tmp_path: Path, clock: FakeClock
) -> None:
    """int() takes such a number, and mixing it with a float raised OverflowError: the 202
    was never acked, and every restart posted and crashed again."""
    fill(tmp_path / "spool.db", 3, level="HIGH", now=clock.time())
    huge = "1" + "0" * 400

    def answer(_body: bytes) -> tuple[int, dict[str, str], bytes]:
        headers = {
            "Date": formatdate(clock.time(), usegmt=True),
            "X-Rate-Limit-Limit": huge,
            "X-Rate-Limit-Remaining": huge,
            "X-Rate-Limit-Reset": huge,
        }
        return 202, headers, b""

    with Hostile(answer) as server:
        status, run, left = drained(tmp_path, server.url, clock)
        assert status is ExitStatus.OK
    assert left == 0 and run.counters.delivered == 3


def test_an_answer_with_conflicting_content_lengths_is_retried_not_blamed_on_the_credential(
    tmp_path: Path, clock: FakeClock, logs: io.StringIO
) -> None:
    fill(tmp_path / "spool.db", 3, level="HIGH", now=clock.time())

    def answer(_body: bytes) -> tuple[int, dict[str, str], bytes]:
        return 502, {"Content-Length": "7"}, b"bad"  # and the server adds its own: 3

    with Hostile(answer) as server:
        status, _run, left = drained(tmp_path, server.url, clock, 30)
    assert status is ExitStatus.OK and left == 3
    assert "malformed answer" in logs.getvalue()
    assert "credential" not in logs.getvalue()
