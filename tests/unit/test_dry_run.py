"""--dry-run: bodies printed one JSON line each, answered as a healthy Okta would."""

from __future__ import annotations

import io
import json
from pathlib import Path

from okta_risk_output.config.settings import build_settings, dry_run_settings
from okta_risk_output.delivery.ratelimit import read_budget
from okta_risk_output.delivery.retry import Action, classify
from okta_risk_output.okta.dry_run import DryRunClient
from okta_risk_output.shipper import Shipper, Source
from tests.support import FakeClock

EVENTS = [{"subjects": [{"ip": "203.0.113.9", "riskLevel": "HIGH"}]}]


def test_post_prints_the_body_and_answers_202_with_room_to_spare() -> None:
    out = io.StringIO()
    client = DryRunClient(out, time_source=lambda: 1_800_000_000.0)
    response = client.post(EVENTS)
    assert out.getvalue() == json.dumps(EVENTS, separators=(",", ":")) + "\n"
    assert response.status_code == 202 and response.ok
    assert classify(response, None).action is Action.DELIVERED
    budget = read_budget(response, 1_800_000_000.0)
    assert budget is not None and budget.remaining == budget.limit >= 1_000_000
    assert 59 <= budget.reset_in <= 61
    assert client.auth.renewable is False
    assert client.url.endswith("/api/v1/risk/events/ip")
    assert client.requests == 1
    client.close()


def test_a_run_with_the_dry_client_prints_every_request_and_sends_nothing(
    tmp_path: Path, clock: FakeClock
) -> None:
    out = io.StringIO()
    # As the CLI wires it: no org URL, no credential, a spool of its own.
    settings = dry_run_settings(
        build_settings({"rate_limit": "100000/s"}, {}, delivery=False), str(tmp_path)
    )
    shipper = Shipper(settings, clock=clock, client=DryRunClient(out, time_source=clock.time))
    lines = b"".join(b'{"ip": "203.0.113.%d", "riskLevel": "LOW"}\n' % n for n in range(1, 31))
    try:
        shipper.run([Source("<stdin>", io.BytesIO(lines))])
    finally:
        shipper.close()
    bodies = [json.loads(line) for line in out.getvalue().splitlines()]
    sent = [s["ip"] for body in bodies for event in body for s in event["subjects"]]
    assert sorted(sent) == sorted(f"203.0.113.{n}" for n in range(1, 31))
    counts = shipper.counters.snapshot()
    assert counts["delivered"] == 30 and counts["requests"] == len(bodies)


def test_dry_run_settings_keep_the_real_spool_and_dead_letter_file_out_of_it(
    tmp_path: Path,
) -> None:
    settings = build_settings(
        {"spool": "/var/lib/real.db", "dead_letter": "/var/log/dl.jsonl", "strict": True},
        {},
        delivery=False,
    )
    dry = dry_run_settings(settings, str(tmp_path))
    assert dry.spool == str(tmp_path / "spool.db")
    assert dry.dead_letter == str(tmp_path / "dead-letter.jsonl")
    assert dry.strict and dry.rate == settings.rate
