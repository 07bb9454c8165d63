"""Issue 8 through the installed program: JSON logs, metrics after a run, --dry-run,
validate, status --watch, --help; the live line only on a terminal."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import TOKEN, emulator

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "sample_logs"


@pytest.fixture(autouse=True)
def own_state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


def program(*args: str, stdin: bytes = b"", env: dict[str, str] | None = None) -> Any:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OKTA_")}
    return subprocess.run(
        [sys.executable, "-m", "okta_risk_output", *args],
        input=stdin,
        capture_output=True,
        env={**clean, **(env or {})},
        timeout=60,
        check=False,
    )


def metric(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    raise AssertionError(f"{name}{labels} not found")


def test_json_logs_and_metrics_after_a_run(tmp_path: Path) -> None:
    with emulator(rate="1000/s", script=(503,)) as emu:
        done = program(
            "run",
            "--spool",
            str(tmp_path / "spool.db"),
            "--dead-letter",
            str(tmp_path / "dl.jsonl"),
            "--log-format",
            "json",
            "--metrics-file",
            str(tmp_path / "okta.prom"),
            "--max-backoff",
            "0.2s",
            str(SAMPLES / "broken.jsonl"),
            env={"OKTA_ORG_URL": emu.url, "OKTA_API_TOKEN": TOKEN},
        )
    assert done.returncode == 0, done.stderr
    assert done.stdout == b""
    # Not a terminal: log lines only, every one a JSON object; no live line.
    assert b"\r" not in done.stderr
    entries = [json.loads(line) for line in done.stderr.decode().splitlines()]
    assert entries[-1]["message"].startswith("summary lines=29 ")
    assert {e["level"] for e in entries} <= {"INFO", "WARN", "ERROR"}
    text = (tmp_path / "okta.prom").read_text()
    p = "okta_risk_output_"
    assert metric(text, p + "lines_read_total") == 29
    assert metric(text, p + "lines_total", outcome="invalid") == 20
    assert metric(text, p + "lines_total", outcome="blank") == 5
    assert metric(text, p + "signals_total", outcome="delivered") == 3
    assert metric(text, p + "requests_total", outcome="retry") == 1
    assert metric(text, p + "requests_total", outcome="delivered") >= 1
    assert metric(text, p + "retries_total") == 1
    assert metric(text, p + "request_duration_seconds_count") >= 2
    assert metric(text, p + "spool_signals_total", state="accepted") == 4
    assert metric(text, p + "rate_limit_limit") > 0


def test_dry_run_prints_the_bodies_and_needs_no_org(tmp_path: Path) -> None:
    done = program(
        "run",
        "--dry-run",
        "--rate-limit",
        "1000/s",
        "--dead-letter",
        str(tmp_path / "dl.jsonl"),
        str(SAMPLES / "risk_events.jsonl"),
    )
    assert done.returncode == 0, done.stderr
    bodies = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert bodies and all(1 <= len(body) <= 20 for body in bodies)
    assert not (tmp_path / "dl.jsonl").exists()
    assert not (tmp_path / "state").exists()  # the real spool was never opened


def test_validate_through_the_program() -> None:
    done = program("validate", str(SAMPLES / "broken.jsonl"))
    assert done.returncode == 1
    assert done.stdout.decode().splitlines()[-1] == (
        "29 lines: 4 valid, 20 invalid, 0 skipped, 5 blank"
    )
    assert program("validate", str(SAMPLES / "signals.jsonl")).returncode == 0


def test_status_watch_needs_a_positive_interval(tmp_path: Path) -> None:
    done = program("status", "--spool", str(tmp_path / "s.db"), "--watch", "0")
    assert done.returncode == 2


def test_help_lists_exit_codes_and_environment_and_validate() -> None:
    text = program("--help").stdout.decode()
    assert "Exit codes:" in text and "OKTA_API_TOKEN" in text and "OKTA_RISK_LOG_FORMAT" in text
    assert "validate" in text


def test_a_terminal_gets_the_live_line(tmp_path: Path) -> None:
    leader, follower = pty.openpty()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OKTA_")}
    child = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "okta_risk_output",
            "run",
            "--dry-run",
            "--rate-limit",
            "1000/s",
            "--dead-letter",
            str(tmp_path / "dl.jsonl"),
            str(SAMPLES / "signals.jsonl"),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=follower,
        env=clean,
    )
    os.close(follower)
    seen = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 30)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        seen += chunk
    assert child.wait(30) == 0
    os.close(leader)
    text = seen.decode()
    assert "\rreading [" in text and "delivered " in text
    assert "INFO summary lines=300 " in text


def _garbled_spool(tmp_path: Path, signals: int) -> Path:
    """A spool of `signals` signals, cleanly closed, with a page in the middle overwritten."""
    from okta_risk_output.spool.sqlite import Spool

    path = tmp_path / "spool.db"
    spool = Spool(str(path))
    spool.put_many(
        [
            ({"subjects": [{"ip": f"2001:db8::{n + 1:x}", "riskLevel": "LOW"}]}, "t", n)
            for n in range(signals)
        ],
        now=1_800_000_000.0,
    )
    spool.close()
    size = int.from_bytes(path.read_bytes()[16:18], "big")
    page = 65536 if size == 1 else size
    with path.open("r+b") as file:
        file.seek((path.stat().st_size // page // 2) * page)
        file.write(b"\xa5" * page)
    return path


def test_status_check_reads_every_page_and_reports_damage_a_plain_status_does_not_look_for(
    tmp_path: Path,
) -> None:
    path = _garbled_spool(tmp_path, 5000)
    plain = program("status", "--spool", str(path))
    checked = program("status", "--check", "--spool", str(path))
    # A plain status runs no integrity check, and its figures are kept, not counted: it
    # reads no page of the backlog, so it shows the table.
    assert plain.returncode == 0, plain.stderr
    assert b"signals waiting" in plain.stdout
    assert checked.returncode == 6, checked.stderr
    assert b"ERROR cannot open the spool" in checked.stderr
    assert b"integrity check failed" in checked.stderr
    assert checked.stdout == b""
    assert path.exists() and not list(tmp_path.glob("spool.db.damaged-*"))  # left alone


def test_status_check_of_a_sound_spool_says_so_and_shows_the_table(tmp_path: Path) -> None:
    from okta_risk_output.spool.sqlite import Spool

    path = tmp_path / "spool.db"
    Spool(str(path)).close()
    done = program("status", "--check", "--spool", str(path))
    assert done.returncode == 0, done.stderr
    assert b"INFO quick_check of " in done.stderr and b"no damage found" in done.stderr
    assert b"signals waiting" in done.stdout
