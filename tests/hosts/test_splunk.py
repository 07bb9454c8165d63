"""The Splunk alert action run exactly as splunkd runs it: `python bin/okta_risk.py --execute`,
the JSON payload on stdin, every result row in a gzipped CSV `results_file`, and the
password store behind `server_uri`. (Splunk is not in the reachable registries; the
contract is Splunk's custom alert action documentation, docs/hosts.md.)

The script runs with `-S`, so it cannot import anything but the standard library, as in
Splunk's own Python where okta-risk-output is not installed.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from okta_risk_output.emulator import Emulator
from okta_risk_output.errors import ExitStatus
from okta_risk_output.hosts.splunk import (
    AlertSettings,
    SplunkAlert,
    row_records,
    splunk_exit_code,
)
from tests.hosts.hostkit import PROGRAM, ROOT, arrived, clean_env, seq_ip, subjects
from tests.support import TOKEN, emulator

SCRIPT = ROOT / "integrations" / "splunk" / "bin" / "okta_risk.py"
SESSION_KEY = "a8f0e-fake-session-key"
SID = "scheduler__admin__search__RMD5a1b2c3d4e5f6a7b8_at_1795774500_42"
SEARCH = "Password spray by source"
COLUMNS = ["_time", "src_ip", "risk_level", "message", "count", "__mv_src_ip", "__mv_risk_level"]


class Splunkd:
    """splunkd's REST API, as far as the action uses it: storage/passwords."""

    def __init__(self, password: str, status: int = 200) -> None:
        self.seen: list[tuple[str, str | None]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.seen.append((self.path, self.headers.get("Authorization")))
                body = json.dumps(
                    {
                        "entry": [
                            {
                                "name": "okta_risk_output:other:",
                                "content": {
                                    "realm": "okta_risk_output",
                                    "username": "other",
                                    "clear_password": "not-this-one",
                                },
                            },
                            {
                                "name": "okta_risk_output:okta-api:",
                                "content": {
                                    "realm": "okta_risk_output",
                                    "username": "okta-api",
                                    "clear_password": password,
                                },
                            },
                        ]
                    }
                ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.uri = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def splunkd() -> Iterator[Splunkd]:
    server = Splunkd(TOKEN)
    yield server
    server.close()


def results(path: Path, rows: list[dict[str, str]]) -> Path:
    """results.csv.gz as splunkd writes it: a header, every row, __mv_ columns."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        values = row.get("src_ip", "").split("\n")
        mv = ";".join(f"${v}$" for v in values) if len(values) > 1 else ""
        writer.writerow({"__mv_src_ip": mv, **row})
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", encoding="utf-8", newline="") as handle:
        handle.write(text.getvalue())
    return path


def payload(results_file: Path, org_url: str, server_uri: str, **params: str) -> bytes:
    configuration = {
        "program": str(PROGRAM),
        "org_url": org_url,
        "ip_field": "src_ip",
        "risk_field": "risk_level",
        "message_field": "message",
        "default_risk_level": "MEDIUM",
        "expires_in": "24h",
        "deadline": "2m",
        "credential_realm": "okta_risk_output",
        "credential_user": "okta-api",
        **params,
    }
    return json.dumps(
        {
            "app": "search",
            "owner": "admin",
            "results_file": str(results_file),
            "results_link": f"https://splunk-sh1.example:8000/app/search/@go?sid={SID}",
            "search_uri": "/servicesNS/admin/search/saved/searches/Password%20spray%20by%20source",
            "server_host": "splunk-sh1",
            "server_uri": server_uri,
            "session_key": SESSION_KEY,
            "sid": SID,
            "search_name": SEARCH,
            "configuration": configuration,
            "result": {"src_ip": seq_ip(0), "risk_level": "high", "count": "37"},
        }
    ).encode()


def splunk_home(tmp_path: Path) -> Path:
    home = tmp_path / "splunk"
    (home / "var" / "run" / "splunk" / "dispatch" / SID).mkdir(parents=True, exist_ok=True)
    return home


def execute(
    home: Path, stdin: bytes, *args: str, env: dict[str, str] | None = None
) -> tuple[int, list[str], float]:
    """As splunkd does: its Python, the script, --execute, the payload on stdin."""
    import subprocess

    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-S", str(SCRIPT), *args],
        input=stdin,
        capture_output=True,
        env=clean_env(
            SPLUNK_HOME=str(home),
            PYTHONPATH=str(home / "lib" / "python3.9" / "site-packages"),
            OKTA_RISK_RATE_LIMIT="1000/s",
            OKTA_RISK_LINGER="50ms",
            **(env or {}),
        ),
        timeout=120,
        check=False,
    )
    lines = done.stderr.decode().splitlines()
    assert all(line.split(" ", 1)[0] in ("INFO", "WARN", "ERROR") for line in lines), lines
    return done.returncode, lines, time.monotonic() - started


def dispatch(home: Path) -> Path:
    return home / "var" / "run" / "splunk" / "dispatch" / SID / "results.csv.gz"


ROWS = [
    {
        "_time": "1795774530",
        "src_ip": seq_ip(0),
        "risk_level": "high",
        "message": "Password spray 37 failed logins",
        "count": "37",
    },
    {
        "_time": "1795774531",
        "src_ip": f"{seq_ip(1)}\n{seq_ip(2)}",
        "risk_level": "",
        "message": "",
        "count": "12",
    },
    {
        "_time": "1795774532",
        "src_ip": seq_ip(3),
        "risk_level": "critical",
        "message": "",
        "count": "3",
    },
    {
        "_time": "1795774533",
        "src_ip": "",
        "risk_level": "low",
        "message": "no address",
        "count": "1",
    },
]


def test_every_row_reaches_okta_as_splunkd_runs_the_script(
    tmp_path: Path, emu: Emulator, splunkd: Splunkd
) -> None:
    home = splunk_home(tmp_path)
    status, stderr, _ = execute(
        home, payload(results(dispatch(home), ROWS), emu.url, splunkd.uri), "--execute"
    )
    assert status == 0, stderr
    got = {s["ip"]: (s["riskLevel"], s.get("message")) for s in subjects(emu)}
    assert got == {
        seq_ip(0): ("HIGH", "Password spray 37 failed logins"),
        seq_ip(1): ("MEDIUM", f"Splunk alert {SEARCH}"),
        seq_ip(2): ("MEDIUM", f"Splunk alert {SEARCH}"),
        seq_ip(3): ("HIGH", f"Splunk alert {SEARCH}"),
    }
    events = [e for r in emu.state.requests() for e in r["events"]]
    assert all("expiresAt" in e for e in events)
    # The credential came from the password store, read with the payload's session key.
    assert splunkd.seen and splunkd.seen[0][1] == f"Splunk {SESSION_KEY}"
    assert "/servicesNS/nobody/okta_risk_output/storage/passwords" in splunkd.seen[0][0]
    state = home / "var" / "lib" / "okta-risk-output"
    assert (state / "spool.db").exists()
    (dead,) = [json.loads(x) for x in (state / "dead-letter.jsonl").read_text().splitlines()]
    assert (dead["source"], dead["line"], dead["kind"]) == (f"splunk:{SEARCH}", 4, "invalid")


def test_a_mode_other_than_execute_exits_1(tmp_path: Path) -> None:
    for args in ((), ("--setup",), ("--execute", "extra")):
        status, stderr, _ = execute(splunk_home(tmp_path), b"{}", *args)
        assert status == 1 and "expected --execute" in stderr[0]


def test_a_credential_okta_refuses_exits_2(tmp_path: Path, emu: Emulator) -> None:
    wrong = Splunkd("a-revoked-token")
    try:
        home = splunk_home(tmp_path)
        status, stderr, _ = execute(
            home, payload(results(dispatch(home), ROWS[:1]), emu.url, wrong.uri), "--execute"
        )
    finally:
        wrong.close()
    assert status == 2, stderr
    assert any(line.startswith("ERROR") and "401" in line for line in stderr), stderr


def test_a_password_store_it_may_not_read_exits_2(tmp_path: Path, emu: Emulator) -> None:
    refusing = Splunkd(TOKEN, status=403)
    try:
        home = splunk_home(tmp_path)
        status, stderr, _ = execute(
            home, payload(results(dispatch(home), ROWS[:1]), emu.url, refusing.uri), "--execute"
        )
    finally:
        refusing.close()
    assert status == 2, stderr
    assert any("list_storage_passwords" in line for line in stderr), stderr
    assert not emu.state.requests()


def test_the_credential_comes_from_the_environment_without_a_store_user(
    tmp_path: Path, emu: Emulator
) -> None:
    home = splunk_home(tmp_path)
    stdin = payload(results(dispatch(home), ROWS[:1]), emu.url, "", credential_user="")
    status, stderr, _ = execute(home, stdin, "--execute", env={"OKTA_API_TOKEN": TOKEN})
    assert status == 0, stderr
    assert set(arrived(emu)) == {0}


def test_unreadable_results_or_program_exit_3(
    tmp_path: Path, emu: Emulator, splunkd: Splunkd
) -> None:
    home = splunk_home(tmp_path)
    missing = payload(dispatch(home), emu.url, splunkd.uri)
    status, stderr, _ = execute(home, missing, "--execute")
    assert status == 3 and any("does not exist" in line for line in stderr), stderr
    corrupt = dispatch(home)
    corrupt.write_bytes(b"not gzip at all")
    status, stderr, _ = execute(home, payload(corrupt, emu.url, splunkd.uri), "--execute")
    assert status == 3, stderr
    no_program = payload(
        results(dispatch(home), ROWS[:1]),
        emu.url,
        splunkd.uri,
        program=str(tmp_path / "nowhere" / "okta-risk-output"),
    )
    status, stderr, _ = execute(home, no_program, "--execute")
    assert status == 3 and "cannot start okta-risk-output" in stderr[0], stderr


def test_the_deadline_ends_the_run_and_the_next_run_sends_the_rest(
    tmp_path: Path, splunkd: Splunkd
) -> None:
    home = splunk_home(tmp_path)
    with emulator(rate="1000/s", latency=30.0) as stalled:
        stdin = payload(results(dispatch(home), ROWS[:3]), stalled.url, splunkd.uri, deadline="1s")
        status, stderr, took = execute(
            home, stdin, "--execute", env={"OKTA_RISK_SHUTDOWN_TIMEOUT": "1s"}
        )
    assert status == 0, stderr
    # Start-up, the 1 s deadline, then 1 s for the stalled request: far below maxtime.
    assert took < 10, f"took {took:.1f}s"
    assert any("left_in_spool=4" in line for line in stderr), stderr  # 3 rows, 4 addresses
    with emulator(rate="1000/s") as healthy:
        rows = [{"_time": "1795774600", "src_ip": seq_ip(9), "risk_level": "low", "message": ""}]
        stdin = payload(results(dispatch(home), rows), healthy.url, splunkd.uri)
        status, stderr, _ = execute(home, stdin, "--execute")
        assert status == 0, stderr
        assert set(arrived(healthy)) == {0, 1, 2, 3, 9}


# -- in-process ------------------------------------------------------------------------------


def _settings(**params: str) -> AlertSettings:
    return AlertSettings.of(SplunkAlert("r.csv.gz", SEARCH, SID, "", configuration=params))


def test_a_profile_gets_the_row_without_splunk_internal_columns() -> None:
    row = {
        "_time": "1795774530",
        "_raw": "x",
        "_cd": "1:2",
        "__mv_src": "",
        "src": "2001:db8::7",
        "urgency": "critical",
        "rule_name": "Brute force",
        "empty": "",
    }
    (record,) = row_records(row, _settings(profile="splunk-es"), SEARCH)
    assert record == {
        "_time": "1795774530",
        "src": "2001:db8::7",
        "urgency": "critical",
        "rule_name": "Brute force",
    }


def test_urgency_words_fold_onto_okta_levels_and_unknown_ones_are_kept_for_the_schema() -> None:
    settings = _settings(default_risk_level="low")
    levels = [
        row_records({"src_ip": "2001:db8::1", "risk_level": w}, settings, SEARCH)[0]["riskLevel"]
        for w in ("Critical", "informational", "", "severe")
    ]
    assert levels == ["HIGH", "LOW", "LOW", "severe"]


def test_settings_are_checked() -> None:
    from okta_risk_output.errors import ConfigError

    with pytest.raises(ConfigError) as raised:
        _settings(default_risk_level="extreme", deadline="soon")
    assert len(raised.value.problems) == 2


def test_splunk_exit_codes() -> None:
    assert splunk_exit_code(ExitStatus.OK, signals_missed=0) == 0
    assert splunk_exit_code(ExitStatus.OK, signals_missed=3) == 2
    assert splunk_exit_code(ExitStatus.AUTH_FAILED, signals_missed=0) == 2
    assert splunk_exit_code(ExitStatus.USAGE, signals_missed=0) == 2
    assert splunk_exit_code(ExitStatus.UNEXPECTED, signals_missed=0) == 3
