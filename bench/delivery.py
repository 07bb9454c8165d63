"""Delivery benchmarks: the plugin against the emulator (its own process), on shortened
windows; every ratio is taken against the same window. The last line is the figure.

    python bench/delivery.py capacity     subjects per window / (requests allowed x 20 x 50)
    python bench/delivery.py shared       the same with 30% of the budget taken by another client
    python bench/delivery.py priority     p99 delay of a HIGH burst behind a LOW backlog
    python bench/delivery.py duplicates   100,000 lines over 5,000 IPs: subjects delivered

`make bench` runs them all.
"""

from __future__ import annotations

import argparse
import io
import ipaddress
import json
import os
import random
import tempfile
import threading
import time
import urllib.request
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Any

import common
from common import TOKEN

from okta_risk_output.clock import SystemClock
from okta_risk_output.config.settings import build_settings
from okta_risk_output.shipper import Shipper, Source

REQUESTS_PER_WINDOW = 30
PER_REQUEST = 20 * 50


def public_ips(count: int, rng: random.Random) -> list[str]:
    """Distinct random global IPv4 addresses: what a real feed sends."""
    found: set[str] = set()
    while len(found) < count:
        address = ipaddress.IPv4Address(rng.getrandbits(32))
        if address.is_global and not address.is_multicast:
            found.add(str(address))
    return sorted(found, key=lambda _: rng.random())


def lines(ips: list[str], level: str) -> bytes:
    return b"".join(
        json.dumps({"ip": ip, "riskLevel": level, "message": "bench"}).encode() + b"\n"
        for ip in ips
    )


def emulator(window: float, *flags: str) -> AbstractContextManager[str]:
    """The emulator (common.py's), allowing REQUESTS_PER_WINDOW requests per `window`."""
    return common.emulator(f"{REQUESTS_PER_WINDOW}/{window:g}s", *flags)


def fetch(url: str, path: str) -> Any:
    with urllib.request.urlopen(url + path, timeout=60) as answer:
        return json.load(answer)


def shipper(folder: Path, url: str, window: float) -> Shipper:
    settings = build_settings(
        {
            "spool": str(folder / "spool.db"),
            "dead_letter": str(folder / "dead.jsonl"),
            "rate_limit": f"{REQUESTS_PER_WINDOW}/{window:g}s",
            "linger": "0.2s",
        },
        {**os.environ, "OKTA_ORG_URL": url, "OKTA_API_TOKEN": TOKEN},
    )
    return Shipper(settings, clock=SystemClock(), stop=threading.Event())


def enqueue(ship: Shipper, data: bytes) -> None:
    ship.enqueue([Source("bench", io.BytesIO(data))])


def drain_for(ship: Shipper, seconds: float) -> None:
    ship.drain(until_empty=False, duration=seconds)


def per_window(url: str) -> list[tuple[int, int, int, int]]:
    """(requests, subjects, 429s, foreign requests) for each window the emulator opened."""
    stats = fetch(url, "/_emulator/stats")
    received = fetch(url, "/_emulator/requests")
    starts = [_epoch(w["started_at"]) for w in stats["windows"]]
    rows = []
    for n, window in enumerate(stats["windows"]):
        end = starts[n + 1] if n + 1 < len(starts) else float("inf")
        subjects = sum(
            len(e["subjects"])
            for r in received
            if starts[n] <= _epoch(r["received_at"]) < end
            for e in r["events"]
        )
        rows.append((window["requests"], subjects, window["throttled"], window["foreign"]))
    return rows


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def capacity(window: float, foreign: str | None) -> None:
    measured = 3
    flags = ["--foreign-load", foreign] if foreign else []
    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as name, emulator(window, *flags) as url:
        ship = shipper(Path(name), url, window)
        enqueue(
            ship, lines(public_ips((measured + 1) * REQUESTS_PER_WINDOW * PER_REQUEST, rng), "LOW")
        )
        drain_for(ship, (measured + 0.5) * window)
        ship.close()
        rows = per_window(url)[:measured]
    for n, (sent, subjects, throttled, taken) in enumerate(rows, start=1):
        print(
            f"window {n}: {sent} requests, {subjects} subjects, {throttled} x 429, "
            f"{taken} requests by the other client"
        )
    allowed = [REQUESTS_PER_WINDOW - taken for _, _, _, taken in rows]
    ratio = sum(r[1] for r in rows) / (sum(allowed) * PER_REQUEST)
    late_429 = sum(r[2] for r in rows[1:])
    label = "shared org" if foreign else "capacity"
    print(
        f"{label}: {ratio:.3f} of the theoretical maximum (requests allowed x 20 x 50) "
        f"over {measured} windows of {window:g}s; 429s: {sum(r[2] for r in rows)} "
        f"({late_429} after the first window)"
    )


def priority(window: float) -> None:
    rng = random.Random(2)
    interval = window / REQUESTS_PER_WINDOW
    ips = public_ips(10 * REQUESTS_PER_WINDOW * PER_REQUEST + 500, rng)
    low, high = ips[:-500], ips[-500:]
    with tempfile.TemporaryDirectory() as name, emulator(window) as url:
        ship = shipper(Path(name), url, window)
        enqueue(ship, lines(low, "LOW"))
        drainer = threading.Thread(target=drain_for, args=(ship, 2.5 * window))
        drainer.start()
        time.sleep(window)  # the burst's moment is the benchmark's input, not a wait
        burst = shipper(Path(name), url, window)
        enqueue(burst, lines(high, "HIGH"))
        arrived = time.time()
        burst.close()
        drainer.join()
        ship.close()
        received = fetch(url, "/_emulator/requests")
    sent_at = {
        s["ip"]: _epoch(r["received_at"])
        for r in received
        for e in r["events"]
        for s in e["subjects"]
        if s["riskLevel"] == "HIGH"
    }
    delays = sorted(sent_at[ip] - arrived for ip in high if ip in sent_at)
    p99 = delays[int(0.99 * (len(delays) - 1))] if delays else float("inf")
    print(f"{len(delays)} of {len(high)} HIGH signals delivered behind {len(low)} LOW ones")
    print(
        f"priority: p99 delay from a HIGH signal's acceptance to Okta = {p99:.2f}s, "
        f"{p99 / interval:.2f} request intervals of {interval:.2f}s (target: at most 2)"
    )


def duplicates(window: float) -> None:
    rng = random.Random(3)
    distinct = public_ips(5000, rng)
    data = b"".join(lines([rng.choice(distinct)], "MEDIUM") for _ in range(100_000))
    with tempfile.TemporaryDirectory() as name, emulator(window) as url:
        ship = shipper(Path(name), url, window)
        enqueue(ship, data)
        ship.drain(until_empty=True)
        coalesced = ship.counters.coalesced  # counted when delivery folds the inbox
        ship.close()
        received = fetch(url, "/_emulator/requests")
    subjects = sum(len(e["subjects"]) for r in received for e in r["events"])
    print(f"100000 lines over 5000 IPs: {coalesced} coalesced before they were sent")
    print(
        f"duplicates: {subjects} subjects delivered for 5000 distinct IPs "
        f"({subjects / 5000:.3f} per IP; target: at most 1)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", choices=["capacity", "shared", "priority", "duplicates"])
    parser.add_argument("--window", type=float, default=10.0, help="emulator window, seconds")
    args = parser.parse_args()
    if args.which == "capacity":
        capacity(args.window, None)
    elif args.which == "shared":
        foreign = f"{int(REQUESTS_PER_WINDOW * 0.3)}/{args.window:g}s"
        capacity(args.window, foreign)
    elif args.which == "priority":
        priority(args.window)
    else:
        duplicates(args.window)


if __name__ == "__main__":
    main()
