"""A profile's regular expression cannot hang the program, whatever the record (issue 11, 10).

`^(a+)+$` on 34 a's and a '!' takes Python's backtracking `re` about 2**34 steps, all the
while holding the GIL, so that not even SIGTERM's handler runs. The installed program, as a
host runs it, is given that profile and that line.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import accepted_total

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = Path(sys.executable).parent / "okta-risk-output"
PROMPTLY = 20.0
"""Seconds: minutes of slack for what RE2 does in microseconds, and far below 2**34 steps."""

PROFILE = """
[[filter]]
field = "user"
matches = "^(a+)+$"
skip_reason = "not_all_a"

[ip]
source = "src"

[[risk_level]]
level = "HIGH"
"""
EVIL = json.dumps({"src": "203.0.113.7", "user": "a" * 34 + "!"})
"""The 35 characters that make a backtracking engine try every way to split the a's."""
GOOD = json.dumps({"src": "203.0.113.8", "user": "aaaa"})


def env() -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OKTA_")}
    # The tree this test belongs to, not whichever one the console script was installed from.
    return {**clean, "PYTHONPATH": str(ROOT)}


def profile_file(tmp_path: Path) -> Path:
    path = tmp_path / "all-a.toml"
    path.write_text(PROFILE)
    return path


def test_a_backtracking_pattern_on_a_35_character_field_maps_promptly(tmp_path: Path) -> None:
    lines = tmp_path / "users.jsonl"
    lines.write_text(f"{EVIL}\n{GOOD}\n")
    done = subprocess.run(
        [str(PROGRAM), "map", "--profile", str(profile_file(tmp_path)), str(lines)],
        capture_output=True,
        env=env(),
        cwd=tmp_path,
        timeout=PROMPTLY,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert [json.loads(s)["ip"] for s in done.stdout.splitlines()] == ["203.0.113.8"]
    assert b"skipped=1 (not_all_a=1)" in done.stderr


def test_sigterm_is_honoured_after_a_backtracking_pattern_met_its_line(tmp_path: Path) -> None:
    spool = tmp_path / "spool.db"
    files = ["--spool", str(spool), "--dead-letter", str(tmp_path / "dl.jsonl")]
    process = subprocess.Popen(
        [str(PROGRAM), "enqueue", "--profile", str(profile_file(tmp_path)), *files],
        env=env(),
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stdin is not None
        process.stdin.write(f"{EVIL}\n{GOOD}\n".encode())
        process.stdin.flush()  # and stdin stays open: only the signal ends this run
        # Poll, bounded, for the line after the pathological one to be spooled: then the
        # signal surely comes after the pattern met its line. Not asserted here: without
        # it the signal is sent all the same, and must still be honoured.
        deadline = time.monotonic() + PROMPTLY / 2
        while accepted_total(spool) < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        process.send_signal(signal.SIGTERM)
        try:
            _, stderr = process.communicate(timeout=PROMPTLY)
        except subprocess.TimeoutExpired:
            pytest.fail(f"SIGTERM was not honoured within {PROMPTLY:g}s")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = stderr.decode()
    assert process.returncode == 0, text
    assert "received SIGTERM" in text
    assert accepted_total(spool) == 1, text  # the good line, read after the pathological one
