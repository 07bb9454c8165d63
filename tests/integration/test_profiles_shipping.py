"""Profiles and the address rules on the real path: run -> spool -> the emulator."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from okta_risk_output.clock import SystemClock
from okta_risk_output.errors import ConfigError, ExitStatus
from okta_risk_output.shipper import Shipper, Source
from tests.support import emulator, make_settings

SAMPLES = Path(__file__).resolve().parents[2] / "sample_logs"
# From sample_logs/PROFILES.md, which the generator writes from each record's fate.
EXPECTED = {
    "suricata": (
        "suricata_eve.jsonl",
        20,
        {"not_alert": 12, "private": 2, "loopback": 1, "link-local": 1, "cgnat": 1},
    ),
    "zeek": (
        "zeek_notice.jsonl",
        18,
        {"sensor_notice": 5, "private": 3, "no_ip": 1, "victim_notice": 1},
    ),
}


def run(tmp_path: Path, data: bytes | Path, **options: Any) -> tuple[ExitStatus, Shipper, Any]:
    with emulator(rate="10000/s") as emu:
        settings = make_settings(tmp_path, emu.url, rate_limit="10000/s", **options)
        shipper = Shipper(settings, clock=SystemClock())
        stream = data.open("rb") if isinstance(data, Path) else io.BytesIO(data)
        status = shipper.run([Source(str(data)[:40], stream)])
        assert shipper.counters.balance(), shipper.counters.snapshot()
        shipper.close()
        return status, shipper, emu.state.requests()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_profile_delivers_its_signals_and_counts_what_it_skips(tmp_path: Path, name: str) -> None:
    sample, signals, skipped = EXPECTED[name]
    status, shipper, received = run(tmp_path, SAMPLES / sample, profile=name)
    assert status is ExitStatus.OK
    subjects = [s for r in received for e in r["events"] for s in e["subjects"]]
    counts = shipper.counters.snapshot()
    assert counts["spooled"] == signals
    assert counts["delivered"] + counts["expired"] + counts["coalesced"] == signals
    assert len(subjects) == counts["delivered"]
    assert shipper.counters.skipped_by_reason == skipped
    assert counts["invalid"] == 0


def signal(ip: str, **extra: Any) -> bytes:
    return json.dumps({"ip": ip, "riskLevel": "HIGH", **extra}).encode() + b"\n"


def test_addresses_okta_never_sees_are_skipped_on_the_native_path(tmp_path: Path) -> None:
    mixed_event = (
        json.dumps(
            {
                "subjects": [
                    {"ip": "10.1.2.3", "riskLevel": "HIGH"},
                    {"ip": "203.0.113.4", "riskLevel": "LOW"},
                ]
            }
        ).encode()
        + b"\n"
    )
    data = (
        signal("10.0.0.1")
        + signal("127.0.0.1")
        + signal("fe80::1")
        + signal("100.64.0.9")
        + signal("::")
        + signal("203.0.113.7")
        + mixed_event
    )
    status, shipper, received = run(tmp_path, data)
    assert status is ExitStatus.OK
    assert shipper.counters.skipped_by_reason == {
        "private": 1,
        "loopback": 1,
        "link-local": 1,
        "cgnat": 1,
        "unspecified": 1,
    }
    ips = sorted(s["ip"] for r in received for e in r["events"] for s in e["subjects"])
    assert ips == ["203.0.113.4", "203.0.113.7"]  # the private subject left its event


def test_allow_non_global_ips_sends_them(tmp_path: Path) -> None:
    status, shipper, received = run(
        tmp_path, signal("10.0.0.1") + signal("127.0.0.1"), allow_non_global_ips="1"
    )
    assert status is ExitStatus.OK and shipper.counters.skipped == 0
    assert sum(len(e["subjects"]) for r in received for e in r["events"]) == 2


def test_messages_are_sanitised_unless_strict(tmp_path: Path) -> None:
    line = signal("203.0.113.8", message='Blocked <script> & "quotes"!')
    status, _, received = run(tmp_path, line)
    assert status is ExitStatus.OK
    assert received[0]["events"][0]["subjects"][0]["message"] == "Blocked script quotes"
    (tmp_path / "strict").mkdir()
    status, shipper, received = run(tmp_path / "strict", line, strict=True)
    assert received == [] and shipper.counters.snapshot()["invalid"] == 1


def test_a_broken_profile_file_lists_every_problem_at_start(tmp_path: Path) -> None:
    broken = tmp_path / "mine.toml"
    broken.write_text('[profile]\nname = 3\n[fields]\nip = ""\nnonsense = true\n')
    with pytest.raises(ConfigError) as caught:
        make_settings(tmp_path, "https://example.okta.com", profile=str(broken))
    assert len(caught.value.problems) >= 2
