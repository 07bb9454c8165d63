"""`make demo`: the main job end to end, with the emulator in place of a real Okta org.

Starts the emulator on a free loopback port, ships sample_logs/ through
`okta-risk-output run`, prints the plugin's summary and what the emulator received,
then stops the emulator. Everything it writes goes under .demo/.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".demo"
TOKEN = "demo-token-not-a-secret"  # noqa: S105 - the emulator's, not a real credential
# The emulator plays an org with Okta's documented limit in a shortened window (30 requests
# per 6 s instead of per minute), so the demo takes seconds; the plugin is told the same.
RATE = "30/6s"
INPUTS = ["sample_logs/signals.jsonl", "sample_logs/risk_events.jsonl", "sample_logs/broken.jsonl"]


def main() -> int:
    WORK.mkdir(exist_ok=True)
    dead_letter = WORK / "dead-letter.jsonl"
    dead_letter.unlink(missing_ok=True)
    program = [sys.executable, "-m", "okta_risk_output"]
    emulator_log = (WORK / "emulator.log").open("w")
    emulator = subprocess.Popen(
        [
            *program,
            "emulator",
            "--port",
            "0",
            "--api-token",
            TOKEN,
            "--rate-limit",
            RATE,
            "--record",
            str(WORK / "received.jsonl"),
        ],
        stdout=subprocess.PIPE,
        stderr=emulator_log,
        text=True,
    )
    try:
        assert emulator.stdout is not None
        url = emulator.stdout.readline().strip()
        print(f"== emulator listening at {url}", flush=True)
        env = {**os.environ, "OKTA_ORG_URL": url, "OKTA_API_TOKEN": TOKEN}
        command = [
            *program,
            "run",
            "--rate-limit",
            RATE,
            "--dead-letter",
            str(dead_letter),
            *INPUTS,
        ]
        print("== okta-risk-output run --rate-limit", RATE, *INPUTS, flush=True)
        plugin = subprocess.run(command, env=env, cwd=ROOT, check=False)
        print(f"== exit status {plugin.returncode}", flush=True)
        with urllib.request.urlopen(f"{url}/_emulator/stats", timeout=10) as answer:
            stats = json.load(answer)
        print(
            "== the emulator received: "
            f"{stats['accepted']} requests accepted, {stats['events']} events, "
            f"{stats['subjects']} subjects; answers by status {stats['by_status']}; "
            f"429s: {stats['throttled']}",
            flush=True,
        )
        kinds: dict[str, int] = {}
        for line in dead_letter.read_text(encoding="utf-8").splitlines():
            kind = json.loads(line)["kind"]
            kinds[kind] = kinds.get(kind, 0) + 1
        print(f"== dead-lettered by kind: {kinds} (see {dead_letter.relative_to(ROOT)})")
        return plugin.returncode
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
        emulator_log.close()


if __name__ == "__main__":
    sys.exit(main())
