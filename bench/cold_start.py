"""Cold start: short commands, each against a bare interpreter, measured side by side.

    make bench          (or: .venv/bin/python bench/cold_start.py [--runs N])

Hosts that start the program per batch (a Splunk alert, a Fluentd chunk with one record,
an `enqueue` from a script) pay its start every time. Each command here runs as a new
process, interleaved with `python -c pass` so that both see the same machine; the figure is
the median wall time, and its ratio to the bare interpreter's.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ONE_LINE = b'{"ip":"203.0.113.7","riskLevel":"HIGH","message":"bench"}\n'


def commands(workdir: Path) -> dict[str, list[str]]:
    program = [sys.executable, "-m", "okta_risk_output"]
    spool = ["--spool", str(workdir / "spool.db"), "--dead-letter", str(workdir / "dead.jsonl")]
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "okta-risk-output --version": [*program, "--version"],
        "okta-risk-output schema event": [*program, "schema", "event"],
        "okta-risk-output enqueue (one line)": [*program, "enqueue", *spool],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as tmp:
        table = commands(Path(tmp))
        seconds: dict[str, list[float]] = {name: [] for name in table}
        for _ in range(runs):
            for name, argv in table.items():
                started = time.perf_counter()
                subprocess.run(argv, input=ONE_LINE, capture_output=True, check=True, cwd=tmp)
                seconds[name].append(time.perf_counter() - started)
    bare = statistics.median(seconds["python -c pass"])
    for name, times in seconds.items():
        median = statistics.median(times)
        print(f"{name:38} {median * 1000:7.1f} ms  {median / bare:5.1f}x python -c pass")


if __name__ == "__main__":
    main()
