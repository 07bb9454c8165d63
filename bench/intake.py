"""Intake throughput: a file into the spool, against a bare json.loads loop, in one run.

    make bench          (or: .venv/bin/python bench/intake.py [--lines N])

Both loops read the same file of realistic signals. The spool commits every line in its own
transaction (a line is accepted only once committed), in WAL mode with synchronous=NORMAL
(the default: durable against a crash of the process; a power cut may lose the last
transactions) and, for comparison, synchronous=FULL (an fsync per commit). The last line
printed is the headline figure.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import tempfile
import time
from pathlib import Path

from okta_risk_output.clock import SystemClock
from okta_risk_output.config.settings import build_settings
from okta_risk_output.shipper import Shipper, Source


def make_file(path: Path, lines: int) -> None:
    rng = random.Random(7)
    levels = ("HIGH", "MEDIUM", "LOW")
    with path.open("w") as out:
        for n in range(lines):
            record = {
                "ip": f"203.0.{rng.randrange(113, 114)}.{rng.randrange(1, 255)}",
                "riskLevel": rng.choice(levels),
                "message": f"Password spray against VPN {rng.randrange(5, 90)} failures seq {n}",
                "timestamp": f"2026-11-27T10:{n // 600 % 60:02d}:{n // 10 % 60:02d}.123+02:00",
            }
            out.write(json.dumps(record) + "\n")


def bare_loads(path: Path) -> float:
    started = time.perf_counter()
    with path.open("rb") as handle:
        for line in handle:
            json.loads(line)
    return time.perf_counter() - started


def intake(path: Path, folder: Path, sync: str) -> float:
    settings = build_settings(
        {
            "spool": str(folder / f"spool-{sync}.db"),
            "dead_letter": str(folder / "dead.jsonl"),
            "spool_sync": sync,
        },
        {},
        delivery=False,
    )
    shipper = Shipper(settings, clock=SystemClock())
    data = path.read_bytes()
    started = time.perf_counter()
    shipper.enqueue([Source(str(path), io.BytesIO(data))])
    took = time.perf_counter() - started
    assert shipper.counters.spooled == data.count(b"\n"), shipper.counters.snapshot()
    shipper.close()
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        path = folder / "signals.jsonl"
        make_file(path, args.lines)
        size = path.stat().st_size
        loads = min(bare_loads(path) for _ in range(3))
        normal = intake(path, folder, "normal")
        full = intake(path, folder, "full")
    n = args.lines
    print(f"{n} lines, {size:,} bytes of realistic signals")
    for label, took in (("bare json.loads loop", loads), ("intake, sync=full", full)):
        print(f"{label:<28} {n / took:>10,.0f} lines/s  ({took / loads:.0f}x the loop's time)")
    print(
        f"intake into the spool (sync=normal): {n / normal:,.0f} lines/s, "
        f"{normal / loads:.0f}x the time of a bare json.loads loop over the same file"
    )


if __name__ == "__main__":
    main()
