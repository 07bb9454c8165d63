"""sample_logs/ is what scripts/make_sample_logs.py writes, and the demo's fresh copy (its
hour just before now) holds no sample that has expired."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from okta_risk_output.timestamps import epoch_of, normalise_timestamp

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "make_sample_logs.py"
FILES = ("signals.jsonl", "risk_events.jsonl", "broken.jsonl")


def _make(out: Path, *arguments: str) -> None:
    subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out), *arguments],
        check=True,
        capture_output=True,
        timeout=60,
    )


def test_sample_logs_are_what_the_script_writes(tmp_path: Path) -> None:
    _make(tmp_path)
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (ROOT / "sample_logs" / name).read_bytes(), name


def test_the_demo_s_samples_have_not_expired_whatever_the_date(tmp_path: Path) -> None:
    start = datetime.now(timezone.utc) - timedelta(minutes=50)  # as scripts/demo.py does
    _make(tmp_path, "--hour-start", start.isoformat())
    expiries = [
        epoch_of(str(normalise_timestamp(record["expiresAt"])))
        for name in ("signals.jsonl", "risk_events.jsonl")
        for record in map(json.loads, (tmp_path / name).read_text().splitlines())
        if "expiresAt" in record
    ]
    assert len(expiries) > 30
    assert all(at is not None and at > time.time() for at in expiries)
