"""`make demo`: the main job end to end, with the emulator in place of a real Okta org.

1. Starts the emulator on a free loopback port, ships the sample logs through
   `okta-risk-output run`, prints the plugin's summary and what the emulator received.
   The samples are those of sample_logs/, made again with their times just before now
   (scripts/make_sample_logs.py --hour-start), so that none has expired whatever the date.
2. Runs the same program against an emulated org where Okta has switched the deprecated
   endpoint off, to show the diagnosis (exit code 5).
Everything it writes goes under .demo/. Exits 0 when both acts end as they should.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".demo"
TOKEN = "demo-token-not-a-secret"  # noqa: S105 - the emulator's, not a real credential
# The emulator plays an org with Okta's documented limit in a shortened window (30 requests
# per 6 s instead of per minute), so the demo takes seconds; the plugin is told the same.
RATE = "30/6s"
SAMPLES = WORK / "samples"
INPUTS = [
    f".demo/samples/{name}" for name in ("signals.jsonl", "risk_events.jsonl", "broken.jsonl")
]
PROGRAM = [sys.executable, "-m", "okta_risk_output"]


@contextmanager
def emulator(log: IO[str], *flags: str) -> Iterator[str]:
    """A running emulator; yields its base URL (the first line it prints)."""
    process = subprocess.Popen(
        [*PROGRAM, "emulator", "--port", "0", "--api-token", TOKEN, "--rate-limit", RATE, *flags],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        process.terminate()
        process.wait(timeout=10)


def run_plugin(url: str, spool: Path, dead_letter: Path, inputs: list[str]) -> int:
    env = {**os.environ, "OKTA_ORG_URL": url, "OKTA_API_TOKEN": TOKEN}
    files = ["--spool", str(spool), "--dead-letter", str(dead_letter)]
    command = [*PROGRAM, "run", "--rate-limit", RATE, *files, *inputs]
    print(f"== okta-risk-output run --rate-limit {RATE} {' '.join(inputs)}", flush=True)
    done = subprocess.run(command, env=env, cwd=ROOT, check=False)
    print(f"== exit status {done.returncode}", flush=True)
    return done.returncode


def count_kinds(dead_letter: Path) -> dict[str, int]:
    kinds: dict[str, int] = {}
    for line in dead_letter.read_text(encoding="utf-8").splitlines():
        kind = json.loads(line)["kind"]
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def fresh(name: str) -> Path:
    for suffix in ("", "-wal", "-shm"):
        (WORK / (name + suffix)).unlink(missing_ok=True)
    return WORK / name


def make_samples() -> None:
    """sample_logs/'s files, their hour starting 50 minutes ago: the latest sample is a few
    minutes ahead of now at most, and the shortest expiry (1 h) lies ahead of the run."""
    start = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=50)
    script = ROOT / "scripts" / "make_sample_logs.py"
    arguments = ["--out", str(SAMPLES), "--hour-start", start.isoformat()]
    subprocess.run(
        [sys.executable, str(script), *arguments], cwd=ROOT, check=True, stdout=subprocess.DEVNULL
    )
    print(f"== samples: sample_logs/ made again in .demo/samples/, its hour from {start:%H:%M}Z")


def main() -> int:
    WORK.mkdir(exist_ok=True)
    make_samples()
    with (WORK / "emulator.log").open("w") as log:
        dead_letter = fresh("dead-letter.jsonl")
        record = str(fresh("received.jsonl"))
        with emulator(log, "--record", record) as url:
            print(f"== act 1: a healthy org, emulated at {url}", flush=True)
            shipped = run_plugin(url, fresh("spool.db"), dead_letter, INPUTS)
            with urllib.request.urlopen(f"{url}/_emulator/stats", timeout=10) as answer:
                stats = json.load(answer)
        print(
            f"== the emulator received {stats['accepted']} requests, {stats['events']} events, "
            f"{stats['subjects']} subjects; answers by status {stats['by_status']}; "
            f"429s: {stats['throttled']} (requests are in {Path(record).relative_to(ROOT)})"
        )
        print(
            f"== dead-lettered by kind: {count_kinds(dead_letter)} "
            f"(see {dead_letter.relative_to(ROOT)})"
        )

        spool = fresh("spool-endpoint-off.db")
        with emulator(log, "--endpoint-off") as url:
            print(
                "\n== act 2: an org where Okta has switched the deprecated endpoint off", flush=True
            )
            stopped = run_plugin(url, spool, fresh("dead-letter-endpoint-off.jsonl"), INPUTS[1:2])
        print(f"== kept for later in {spool.relative_to(ROOT)}; okta-risk-output status says:")
        subprocess.run([*PROGRAM, "status", "--spool", str(spool)], cwd=ROOT, check=False)
    return 0 if (shipped, stopped) == (0, 5) else 1


if __name__ == "__main__":
    sys.exit(main())
