"""The installed program as hosts run it: a subprocess, its exit codes, stdout left alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from okta_risk_output.emulator import Emulator
from okta_risk_output.intake.validation import EVENT_SCHEMA, REQUEST_SCHEMA, load_schema
from tests.support import TOKEN

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.emulator(rate="1000/s")  # for the `emu` fixture
SIGNAL = b'{"ip": "203.0.113.5", "riskLevel": "HIGH", "message": "EDR C2 beacon"}\n'


def signals(count: int) -> bytes:
    """Signals for distinct addresses (repeats of one address would coalesce)."""
    return b"".join(
        b'{"ip": "203.0.113.%d", "riskLevel": "HIGH", "message": "EDR C2 beacon"}\n' % (n + 10)
        for n in range(count)
    )


@pytest.fixture(autouse=True)
def own_state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets its own default spool location, never the user's."""
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


def test_run_delivers_from_stdin_and_keeps_stdout_empty(tmp_path: Path, emu: Emulator) -> None:
    env = {"OKTA_ORG_URL": emu.url, "OKTA_API_TOKEN": TOKEN}
    done = program("run", "--dead-letter", str(tmp_path / "dl.jsonl"), stdin=signals(3), env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == b""
    assert emu.state.stats()["subjects"] == 3
    lines = done.stderr.decode().splitlines()
    assert lines and all(line.split(" ", 1)[0] in ("INFO", "WARN", "ERROR") for line in lines)
    assert "summary lines=3" in lines[-1]


def test_files_and_dash_mix(tmp_path: Path, emu: Emulator) -> None:
    first = tmp_path / "a.jsonl"
    first.write_bytes(SIGNAL)
    env = {"OKTA_ORG_URL": emu.url, "OKTA_API_TOKEN": TOKEN}
    dead = str(tmp_path / "dl.jsonl")
    done = program("run", "--dead-letter", dead, str(first), "-", stdin=signals(2), env=env)
    assert done.returncode == 0, done.stderr
    assert emu.state.stats()["subjects"] == 3


def test_a_rejected_token_exits_3_and_never_shows_the_token(tmp_path: Path, emu: Emulator) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("wrong-but-secret-token\n")
    env = {"OKTA_ORG_URL": emu.url}
    dead = tmp_path / "dl.jsonl"
    done = program(
        "run",
        "--api-token-file",
        str(token_file),
        "--dead-letter",
        str(dead),
        stdin=SIGNAL,
        env=env,
    )
    assert done.returncode == 3
    assert b"wrong-but-secret-token" not in done.stderr + done.stdout
    assert "wrong-but-secret-token" not in dead.read_text()
    assert b"ERROR delivery stopped: HTTP 401 E0000011" in done.stderr


def test_configuration_errors_exit_2_listing_every_problem() -> None:
    done = program("run", "--rate-limit", "lots", "--org-url", "http://example.okta.com")
    assert done.returncode == 2
    errors = [line for line in done.stderr.decode().splitlines() if line.startswith("ERROR")]
    assert len(errors) == 3, errors  # the rate, https, and the missing token
    assert done.stdout == b""


def test_drain_for_a_while_and_forever_at_once_is_refused(tmp_path: Path) -> None:
    done = program("drain", "--for", "2s", "--forever", "--spool", str(tmp_path / "s.db"))
    assert done.returncode == 2
    assert b"--for and --forever contradict each other" in done.stderr
    assert not (tmp_path / "s.db").exists()  # refused before anything was opened


def test_an_unwritable_dead_letter_file_is_a_configuration_error(tmp_path: Path) -> None:
    env = {"OKTA_ORG_URL": "https://example.okta.com", "OKTA_API_TOKEN": TOKEN}
    done = program("run", "--dead-letter", str(tmp_path / "no" / "such" / "dir.jsonl"), env=env)
    assert done.returncode == 2
    assert b"cannot open the dead-letter file" in done.stderr


@pytest.mark.parametrize(("which", "name"), [("event", EVENT_SCHEMA), ("request", REQUEST_SCHEMA)])
def test_schema_prints_the_shipped_file(which: str, name: str) -> None:
    done = program("schema", which)
    assert done.returncode == 0
    assert json.loads(done.stdout) == load_schema(name)
    assert (ROOT / "schemas" / name).read_bytes() == done.stdout


def test_version_and_help_list_the_exit_codes() -> None:
    assert program("--version").stdout.decode().startswith("okta-risk-output, version ")
    help_text = program("run", "--help").stdout.decode()
    assert "Exit codes:" in help_text and "OKTA_API_TOKEN" in help_text


def test_the_default_spool_is_under_xdg_state_home(tmp_path: Path, emu: Emulator) -> None:
    env = {"OKTA_ORG_URL": emu.url, "OKTA_API_TOKEN": TOKEN}
    done = program("run", "--dead-letter", str(tmp_path / "dl.jsonl"), stdin=SIGNAL, env=env)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "state" / "okta-risk-output" / "spool.db").exists()


def test_enqueue_needs_no_org_and_drain_delivers_it(tmp_path: Path, emu: Emulator) -> None:
    spool = str(tmp_path / "spool.db")
    dead = str(tmp_path / "dl.jsonl")
    queued = program("enqueue", "--spool", spool, "--dead-letter", dead, stdin=signals(4))
    assert queued.returncode == 0, queued.stderr
    assert b"spooled=4" in queued.stderr and emu.state.stats()["subjects"] == 0
    shown = program("status", "--spool", spool, "--json")
    report = json.loads(shown.stdout)
    assert report["signals"] == 4 and report["by_risk_level"]["HIGH"] == 4
    env = {"OKTA_ORG_URL": emu.url, "OKTA_API_TOKEN": TOKEN}
    drained = program("drain", "--spool", spool, "--dead-letter", dead, env=env)
    assert drained.returncode == 0, drained.stderr
    assert emu.state.stats()["subjects"] == 4
    table = program("status", "--spool", spool).stdout.decode()
    assert "signals waiting" in table and "delivered 4" in table
