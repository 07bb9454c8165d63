"""The program's first instants as a process: closed standard streams, and signals that
come while it is still importing. The program is run from the tree this file is in.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import TOKEN, emulator, wait_until

ROOT = Path(__file__).resolve().parents[2]
BAD_AND_GOOD = b'not json\n{"ip": "203.0.113.5", "riskLevel": "HIGH"}\n'


def command(tmp_path: Path, *args: str, python: tuple[str, ...] = ()) -> list[str]:
    files = ["--spool", str(tmp_path / "spool.db"), "--dead-letter", str(tmp_path / "dl.jsonl")]
    return [sys.executable, *python, "-m", "okta_risk_output", *args, *files]


def environment(tmp_path: Path, url: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OKTA_")}
    return {
        **clean,
        "OKTA_ORG_URL": url,
        "OKTA_API_TOKEN": TOKEN,
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "PYTHONPATH": str(ROOT),  # this tree's code, whatever is installed
    }


def with_closed(fd: int, argv: list[str]) -> list[str]:
    """`argv` started by a shell with `fd` closed, as a host might (`2>&-`)."""
    return ["sh", "-c", f'exec "$@" {fd}>&-', "sh", *argv]


def dead_letter_lines(tmp_path: Path) -> list[str]:
    return (tmp_path / "dl.jsonl").read_text().splitlines()


# -- 14: closed standard streams -------------------------------------------------------------


def test_a_closed_stderr_never_turns_messages_into_dead_letters(tmp_path: Path) -> None:
    """Started with `2>&-`: fd 2 must not become the dead-letter file. The second SIGTERM's
    message, written straight to fd 2, shows where fd 2 points."""
    with emulator(latency=30.0) as stalled:
        argv = command(tmp_path, "run", "--linger", "0s", "--shutdown-timeout", "60s")
        process = subprocess.Popen(
            with_closed(2, argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            env=environment(tmp_path, stalled.url),
            cwd=ROOT,
        )
        assert process.stdin is not None
        process.stdin.write(BAD_AND_GOOD)
        process.stdin.flush()
        wait_until(lambda: stalled.state.stats()["requests"] > 0)  # the good line is in flight
        fd2 = os.readlink(f"/proc/{process.pid}/fd/2")
        # The first signal starts a shutdown that waits for the stalled request; one that
        # comes after it is handled exits at once. Signals that come together may count as
        # one, so send them until the process ends.
        for _ in range(20):
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(0.5)
                break
            except subprocess.TimeoutExpired:
                continue
        process.stdin.close()
    entries = dead_letter_lines(tmp_path)
    assert all(json.loads(line)["kind"] for line in entries), entries
    assert len(entries) == 1
    assert fd2 == os.devnull
    assert process.returncode == 128 + signal.SIGTERM


@pytest.mark.parametrize(
    ("fd", "args"),
    [(0, ("run",)), (1, ("run", "--dry-run"))],
    ids=["stdin", "stdout"],
)
def test_a_closed_stdin_or_stdout_is_dev_null(tmp_path: Path, fd: int, args: tuple[str]) -> None:
    """A closed stdin reads as empty input; a closed stdout swallows what is written to it
    (here --dry-run's request bodies) instead of a file opened later taking its place."""
    stdin = subprocess.DEVNULL if fd == 0 else None
    done = subprocess.run(
        with_closed(fd, command(tmp_path, *args)),
        input=None if fd == 0 else BAD_AND_GOOD,
        stdin=stdin,
        capture_output=True,
        env=environment(tmp_path, "http://127.0.0.1:9"),
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    stderr = done.stderr.decode()
    assert "Traceback" not in stderr and "unexpected error" not in stderr, stderr
    assert done.returncode == 0, stderr
    if fd == 0:
        assert "summary lines=0" in stderr
    else:
        assert "summary lines=2" in stderr and "delivered=1" in stderr


# -- 15: signals while the program starts -----------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_while_starting_gives_the_summary_and_no_traceback(
    tmp_path: Path, signum: signal.Signals
) -> None:
    """The signal is sent when click has begun to load (Python's -X importtime reports each
    import on stderr as it completes): the run must start already shutting down, read
    nothing, print its summary and exit 0, as a signalled run does."""
    process = subprocess.Popen(
        command(tmp_path, "run", python=("-X", "importtime")),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment(tmp_path, "http://127.0.0.1:9"),
        cwd=ROOT,
    )
    assert process.stdin is not None and process.stderr is not None
    process.stdin.write(BAD_AND_GOOD)  # there to be read, and the pipe stays open
    process.stdin.flush()
    seen: list[bytes] = []
    for raw in process.stderr:
        seen.append(raw)
        if re.search(rb"\|\s+click(\.|$)", raw.rstrip()):
            process.send_signal(signum)
            break
    assert seen and b"click" in seen[-1], "the program never imported click"
    try:
        rest = process.stderr.read()
        process.wait(30)
    finally:
        process.kill()
        process.stdin.close()
    lines = [
        line
        for line in (b"".join(seen) + rest).decode().splitlines()
        if not line.startswith("import time:")
    ]
    text = "\n".join(lines)
    assert "Traceback" not in text and "KeyboardInterrupt" not in text, text
    assert process.returncode == 0, text
    assert f"received {signum.name}: shutting down" in text
    assert any(line.startswith("INFO summary lines=0 ") for line in lines), text


HEAVY = ("requests", "urllib3", "jsonschema", "cryptography", "jwt", "prometheus_client")
"""What a short `enqueue` of a valid line does without: HTTP, the schema judge, keys, metrics."""

NOT_FOR_SPOOLING = (
    *HEAVY,
    "okta_risk_output.okta.session",
    "okta_risk_output.delivery.deliverer",
    "okta_risk_output.hosts",
    "okta_risk_output.emulator",
    "okta_risk_output.intake.profiles.engine",
    "re2",
)
"""Nor does it load the delivery side, any host's adapter, or the profile engine (no
profile is named)."""

NOT_FOR_DELIVERING = ("jsonschema", "cryptography", "jwt", "prometheus_client")
"""A host run that delivers needs HTTP, but not the schema judge (its lines are valid), keys
(SSWS) or metrics (none asked for)."""


def loaded_at_exit(
    argv: list[str], stdin: bytes, env: dict[str, str], watched: tuple[str, ...]
) -> str:
    """Run the program with `argv`; its stderr, ending with a line `LOADED a,b` naming
    which of `watched` were imported by the time it exited."""
    # Every start of a short-lived host run pays for what it imports (issue 13's cold start).
    probe = (
        "import atexit, sys\n"
        f"watched = {watched!r}\n"
        "atexit.register(lambda: sys.stderr.write("
        "'LOADED ' + ','.join(m for m in watched if m in sys.modules) + '\\n'))\n"
        "from okta_risk_output.cli.entry import main\n"
        "sys.argv = ['okta-risk-output', *sys.argv[1:]]\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, *argv],
        input=stdin,
        capture_output=True,
        env=env,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    err = done.stderr.decode()
    assert done.returncode == 0, err
    return err


def test_enqueue_of_a_valid_line_loads_no_http_schema_judge_keys_or_metrics(
    tmp_path: Path,
) -> None:
    spool, dead = tmp_path / "spool.db", tmp_path / "dead.jsonl"
    err = loaded_at_exit(
        ["enqueue", "--spool", str(spool), "--dead-letter", str(dead)],
        b'{"ip":"203.0.113.7","riskLevel":"HIGH"}\n',
        environment(tmp_path, "http://127.0.0.1:9"),
        NOT_FOR_SPOOLING,
    )
    assert "spooled=1" in err, err
    assert "LOADED \n" in err, err


FLUENTD_ONLY = ("okta_risk_output.hosts.splunk", "okta_risk_output.hosts.omprog", "gzip")
SPLUNK_ONLY = ("okta_risk_output.hosts.fluentd", "okta_risk_output.hosts.omprog")


def test_a_one_record_fluentd_chunk_loads_only_fluentds_adapter(tmp_path: Path) -> None:
    chunk = tmp_path / "buffer.q1.log"
    chunk.write_bytes(b'{"ip":"203.0.113.8","riskLevel":"HIGH"}\n')
    with emulator() as emu:
        env = {**environment(tmp_path, emu.url), "OKTA_RISK_LINGER": "0s"}
        err = loaded_at_exit(
            ["fluentd", str(chunk), *command(tmp_path)[3:]],
            b"",
            env,
            (*NOT_FOR_DELIVERING, *FLUENTD_ONLY),
        )
    assert "delivered=1" in err, err
    assert "LOADED \n" in err, err


def test_a_one_result_splunk_alert_loads_only_splunks_adapter(tmp_path: Path) -> None:
    results = tmp_path / "results.csv.gz"
    with gzip.open(results, "wt") as handle:
        handle.write("src_ip,risk_level,message\n203.0.113.9,high,spray\n")
    with emulator() as emu:
        payload = {
            "results_file": str(results),
            "sid": "sid1",
            "search_name": "spray",
            "server_uri": "",
            "configuration": {"org_url": emu.url, "deadline": "30s"},
        }
        env = {
            **environment(tmp_path, emu.url),
            "OKTA_RISK_LINGER": "0s",
            "OKTA_RISK_SPOOL": str(tmp_path / "spool.db"),
            "OKTA_RISK_DEAD_LETTER": str(tmp_path / "dl.jsonl"),
        }
        err = loaded_at_exit(
            ["splunk", "--execute"],
            json.dumps(payload).encode(),
            env,
            (*NOT_FOR_DELIVERING, *SPLUNK_ONLY),
        )
    assert "delivered=1" in err, err
    assert "LOADED \n" in err, err
