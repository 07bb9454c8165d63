"""The installed program spools one signal per address, however the address was written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from okta_risk_output.emulator import Emulator
from okta_risk_output.spool.sqlite import Spool
from tests.support import TOKEN

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = Path(sys.executable).parent / "okta-risk-output"
pytestmark = pytest.mark.emulator(rate="1000/s")  # for the `emu` fixture
ONE_ADDRESS = ["2001:DB8::1", "2001:db8::1", "2001:0db8:0000:0000::0001"]


def program(tmp_path: Path, *args: str, stdin: bytes = b"", **env: str) -> Any:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OKTA_")}
    # The tree this test belongs to, not whichever one the console script was installed from.
    clean.update(PYTHONPATH=str(ROOT), XDG_STATE_HOME=str(tmp_path / "state"), **env)
    files = ["--spool", str(tmp_path / "spool.db")]
    if args[0] != "status":
        files += ["--dead-letter", str(tmp_path / "dl.jsonl")]
    return subprocess.run(
        [str(PROGRAM), *args, *files],
        input=stdin,
        capture_output=True,
        env=clean,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )


def lines(*records: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def test_three_spellings_of_one_address_are_spooled_as_one_signal(tmp_path: Path) -> None:
    signals = [{"ip": ip, "riskLevel": "MEDIUM"} for ip in ONE_ADDRESS]
    queued = program(tmp_path, "enqueue", stdin=lines(*signals))
    assert queued.returncode == 0, queued.stderr.decode()
    shown = program(tmp_path, "status", "--json")
    assert shown.returncode == 0, shown.stderr.decode()
    report = json.loads(shown.stdout)
    # Intake appended all three; they merge when delivery next takes a step.
    assert (report["signals"], report["inbox"]) == (3, 3), report
    spool = Spool(str(tmp_path / "spool.db"))
    lease = spool.lease(time.time(), 60, lambda candidates: candidates)
    assert lease is not None and [s.ip for s in lease.signals] == ["2001:db8::1"]
    assert spool.totals()["coalesced"] == 2 and spool.live() == 1
    spool.close()


def test_okta_receives_each_address_once_in_its_canonical_text(
    tmp_path: Path, emu: Emulator
) -> None:
    # A RiskEvent whose subjects spell one address two ways, flat signals, and an
    # IPv4-mapped address beside its IPv4 one.
    event = {"subjects": [{"ip": ip, "riskLevel": "LOW"} for ip in ONE_ADDRESS[:2]]}
    stdin = lines(
        event,
        {"ip": ONE_ADDRESS[2], "riskLevel": "HIGH"},
        {"ip": "::ffff:11.0.0.11", "riskLevel": "HIGH"},
        {"ip": "11.0.0.11", "riskLevel": "LOW"},
    )
    done = program(
        tmp_path, "run", "--linger", "0s", stdin=stdin, OKTA_ORG_URL=emu.url, OKTA_API_TOKEN=TOKEN
    )
    assert done.returncode == 0, done.stderr.decode()
    sent = [s for r in emu.state.requests() for e in r["events"] for s in e["subjects"]]
    assert sorted((s["ip"], s["riskLevel"]) for s in sent) == [
        ("11.0.0.11", "HIGH"),
        ("2001:db8::1", "HIGH"),
    ]
