"""Cold start: short commands, each against a bare interpreter, measured side by side.

    make bench          (or: .venv/bin/python bench/cold_start.py [--runs N])

Hosts that start the program per batch (a Splunk alert, a Fluentd chunk with one record,
an `enqueue` from a script) pay its start every time. Each command here runs as a new
process, interleaved with `python -c pass` so that all see the same machine, after one
untimed round that warms the caches; a figure is the median wall time from spawn to exit,
and its ratio to the bare interpreter's (issue 13: <= 5x). The lines:

    python -c pass                          the yardstick
    python -S -c pass (no site)             context: what site (the virtualenv's .pth files,
                                            an editable install's finder) adds to every start
    okta-risk-output --version              the CLI's start alone
    okta-risk-output schema event           a command that reads a schema file
    okta-risk-output enqueue (one line)     one valid line spooled (`python -m`, a pipe)
    okta-risk-output splunk --execute       splunkd's payload on stdin, one result row in
                                            its results_file; spools the signal and
                                            delivers it to the emulator (one POST)
    okta-risk-output fluentd CHUNK          out_exec's call with a one-record chunk (a new
                                            one each run); spools and delivers it

The host commands run the console script, as hosts do, against the project's emulator on
loopback (its own process, started once). Their pacing is set to 1000/s: each run's first
request goes at once anyway, and a 30/min spool shared by the runs would make later runs
wait for the previous run's slot.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

from common import (
    HOST_PROGRAM,
    PROGRAM,
    PYTHON,
    emulator,
    machine,
    median,
    okta_env,
    run,
    spool_flags,
    use_this_tree,
)

ONE_LINE = b'{"ip":"203.0.113.7","riskLevel":"HIGH","message":"bench"}\n'
SID = "scheduler__admin__search__RMD5bench_at_1795774500_42"
FAST = {"OKTA_RISK_RATE_LIMIT": "1000/s"}


def splunk_payload(home: Path, url: str) -> bytes:
    """What splunkd hands the alert action: a payload naming a gzipped CSV of one row."""
    results = home / "var" / "run" / "splunk" / "dispatch" / SID / "results.csv.gz"
    results.parent.mkdir(parents=True, exist_ok=True)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["_time", "src_ip", "risk_level", "message", "count"])
    writer.writerow(["1795774530", "198.51.100.23", "high", "Password spray 37 failed", "37"])
    with gzip.open(results, "wt", encoding="utf-8", newline="") as handle:
        handle.write(text.getvalue())
    configuration = {"org_url": url, "credential_user": "", "deadline": "1m"}
    return json.dumps(
        {
            "app": "search",
            "owner": "admin",
            "results_file": str(results),
            "server_host": "bench",
            "server_uri": "https://127.0.0.1:8089",
            "session_key": "",
            "sid": SID,
            "search_name": "Password spray by source",
            "configuration": configuration,
            "result": {"src_ip": "198.51.100.23", "risk_level": "high"},
        }
    ).encode()


Command = Callable[[int], tuple[list[str], bytes | None, dict[str, str] | None]]
"""Run number -> (argv, stdin, environment or None for this one's)."""


def commands(work: Path, url: str) -> dict[str, Command]:
    home = work / "splunk"
    payload = splunk_payload(home, url)
    splunk_env = okta_env(url, SPLUNK_HOME=str(home), **FAST)
    fluentd_env = okta_env(url, **FAST)
    chunks = work / "buffer"
    chunks.mkdir()

    def fluentd(n: int) -> tuple[list[str], bytes | None, dict[str, str] | None]:
        chunk = chunks / f"buffer.q{n:016x}.log"  # a new chunk each run: one is spooled once
        record = {"ip": "198.51.100.9", "riskLevel": "HIGH", "message": f"seq {n}"}
        chunk.write_text(json.dumps(record) + "\n")
        argv = [HOST_PROGRAM, "fluentd", *spool_flags(work / "fluentd.db"), str(chunk)]
        return argv, None, fluentd_env

    return {
        "python -c pass": lambda n: ([PYTHON, "-c", "pass"], None, None),
        "python -S -c pass (no site)": lambda n: ([PYTHON, "-S", "-c", "pass"], None, None),
        "okta-risk-output --version": lambda n: ([*PROGRAM, "--version"], None, None),
        "okta-risk-output schema event": lambda n: ([*PROGRAM, "schema", "event"], None, None),
        "okta-risk-output enqueue (one line)": lambda n: (
            [*PROGRAM, "enqueue", *spool_flags(work / "enqueue.db")],
            ONE_LINE,
            None,
        ),
        "okta-risk-output splunk --execute": lambda n: (
            [HOST_PROGRAM, "splunk", "--execute"],
            payload,
            splunk_env,
        ),
        "okta-risk-output fluentd CHUNK": fluentd,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    runs = parser.parse_args().runs
    use_this_tree()
    print(f"machine: {machine()}")
    print(f"sizes: --runs {runs}, interleaved")
    with tempfile.TemporaryDirectory(prefix="bench-start-") as tmp, emulator() as url:
        table = commands(Path(tmp), url)
        seconds: dict[str, list[float]] = {name: [] for name in table}
        for n in range(runs + 1):  # the first round warms caches (files, spools) and is dropped
            for name, command in table.items():
                argv, stdin, env = command(n)
                finished = run(argv, stdin=stdin, env=env, cwd=Path(tmp)).check()
                if n:
                    seconds[name].append(finished.wall)
    bare = median(seconds["python -c pass"])
    for name, times in seconds.items():
        took = median(times)
        print(f"{name:38} {took * 1000:7.1f} ms  {took / bare:5.1f}x python -c pass")


if __name__ == "__main__":
    main()
