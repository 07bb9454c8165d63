"""A large backlog: what delivery, `status` and `/metrics` cost as the spool grows, in one run.

    make bench          (or: .venv/bin/python bench/backlog.py [--scale F] [--cycles N]
                                                    [--paced SECONDS] [--fast SECONDS])

Spools of 10,000, 100,000 and N = 1,000,000 x --scale signals are built once, through the
Store API (put_many of 50-subject RiskEvents, distinct addresses), and every figure below
reuses them; sizes that coincide are built once. What each line means:

    built                    how long filling each spool took (context only)
    lease+pack+ack at S      one delivery step of a 1,000-subject request through the Store
                             API: ready(), lease() choosing as the risk-events output does
                             (delivery/packing.py's pack), the request body built and
                             serialised, ack(). `first` is the first step after the spool was
                             filled: a spool that indexes at lease time does its one-time
                             work there. `steady` is the median of --cycles further steps,
                             each after 1,000 new signals were put (untimed), so the backlog
                             keeps its size; its parts follow, then its ratio to the 10,000
                             figure (issue 13: within 2x), and the same with ready() added
                             (the deliverer calls it before every lease)
    status (CLI)             `okta-risk-output status` as a process, spawn to exit, median
                             of 5 interleaved runs per size; the ratio N / 10,000 and the
                             size-dependent part (N minus 10,000)
    Spool() open, status()   the same two steps in this process, through the Store API
                             (issue 13: independent of size, <= 50 ms)
    /metrics scrape          `enqueue --metrics-port` holding each spool open (its stdin
                             open, nothing read), scraped 5 times each, interleaved; the first
                             line is from spawn to the first scrape answered
    peak RSS                 ru_maxrss (wait4) of drains of the N spool, over that of a
                             one-line enqueue (issue 13: <= 100 MB, flat)
    CPU of a paced drain     `drain --rate-limit 30/min` with N backlogged, against the
                             emulator, for --paced seconds, ended by SIGTERM: its own CPU
                             time over its wall time (wait4), and over the window after its
                             first 5 s (/proc), which leaves out start and open (issue 13:
                             < 2% of a core)
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from common import (
    PROGRAM,
    Backlog,
    Child,
    emulator,
    free_port,
    machine,
    median,
    okta_env,
    roomy_policy,
    run,
    spool_flags,
    use_this_tree,
)

BASE = 10_000
"""The size every ratio is taken against."""
STEADY_AFTER = 5.0
"""Seconds of a drain's start left out of its steady CPU figure."""
ONE_LINE = b'{"ip":"203.0.113.7","riskLevel":"HIGH","message":"bench"}\n'


def delivery_step(store: Any) -> dict[str, float]:
    """One request's worth through the Store API; seconds of each part."""
    from okta_risk_output.delivery.packing import PackLimits, pack, request_body

    limits = PackLimits()

    def choose(candidates: list[Any]) -> list[Any]:  # as RiskEventsSink.choose does
        events, _ = pack(candidates, limits)
        return [signal for members in events for signal in members]

    now = time.time()
    t0 = time.perf_counter()
    store.ready(now, limits.max_signals)
    t1 = time.perf_counter()
    lease = store.lease(now, 120.0, choose)
    t2 = time.perf_counter()
    assert lease is not None and len(lease.signals) == limits.max_signals, lease
    events, _ = pack(lease.signals, limits)
    body = json.dumps(request_body(events)).encode()
    t3 = time.perf_counter()
    assert store.ack(lease, lease.signals) == limits.max_signals
    t4 = time.perf_counter()
    assert len(body) > 0
    return {"ready": t1 - t0, "lease": t2 - t1, "pack": t3 - t2, "ack": t4 - t3}


def lease_figures(backlogs: dict[int, Backlog], cycles: int) -> None:
    first = {size: delivery_step(b.store) for size, b in backlogs.items()}
    steady: dict[int, list[dict[str, float]]] = {size: [] for size in backlogs}
    for _ in range(cycles):
        for size, backlog in backlogs.items():
            backlog.put(1000)
            steady[size].append(delivery_step(backlog.store))
    base = with_ready = None
    for size in backlogs:
        part = {k: median(s[k] for s in steady[size]) for k in ("ready", "lease", "pack", "ack")}
        total = part["lease"] + part["pack"] + part["ack"]
        base = base or total
        with_ready = with_ready or total + part["ready"]
        warm = first[size]
        print(
            f"lease+pack+ack at {size:>9,}: first {_ms(warm['lease'] + warm['pack'] + warm['ack'])}"
            f" (ready {_ms(warm['ready'])}); steady {_ms(total)} (lease {_ms(part['lease'])}, "
            f"pack {_ms(part['pack'])}, ack {_ms(part['ack'])}; ready {_ms(part['ready'])}) "
            f"= {total / base:.2f}x the {BASE:,} figure; with ready() "
            f"{(total + part['ready']) / with_ready:.2f}x"
        )


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def compare(label: str, small: float, large: float, size: int, extra: str = "") -> None:
    print(
        f"{label} at {BASE:,}: {_ms(small)}; at {size:,}: {_ms(large)}; ratio {large / small:.2f}"
        f" (size-dependent part {(large - small) * 1000:+.1f} ms){extra}"
    )


def status_figures(paths: dict[int, Path], size: int) -> None:
    runs: dict[int, list[float]] = {BASE: [], size: []}
    for _ in range(5):
        for n in runs:
            runs[n].append(run([*PROGRAM, "status", "--spool", str(paths[n])]).check().wall)
    compare("status (CLI process)", median(runs[BASE]), median(runs[size]), size)

    from okta_risk_output.spool.sqlite import Spool

    opens: dict[int, list[float]] = {BASE: [], size: []}
    reports: dict[int, list[float]] = {BASE: [], size: []}
    for _ in range(5):
        for n in opens:
            t0 = time.perf_counter()
            store = Spool(str(paths[n]), policy=roomy_policy())
            t1 = time.perf_counter()
            store.status(time.time())
            t2 = time.perf_counter()
            store.close()
            opens[n].append(t1 - t0)
            reports[n].append(t2 - t1)
    compare("Spool(path) open, in-process", median(opens[BASE]), median(opens[size]), size)
    compare("store.status(), in-process", median(reports[BASE]), median(reports[size]), size)


@contextmanager
def serving_metrics(spool: Path) -> Iterator[tuple[str, float]]:
    """An enqueue holding `spool` open with /metrics served; yields (url, seconds from
    spawn to the first scrape answered)."""
    port = free_port()
    child = Child(
        [*PROGRAM, "enqueue", *spool_flags(spool), "--metrics-port", str(port)],
        stdin=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        while True:
            try:
                scrape(url)
                break
            except OSError:
                if not child.running():
                    failed = child.finish().stderr
                    raise SystemExit(f"enqueue --metrics-port exited:\n{failed}") from None
                time.sleep(0.01)
        yield url, time.perf_counter() - child.started
    finally:
        assert child.process.stdin is not None
        child.process.stdin.close()
        child.finish(timeout=60).check()


def scrape(url: str) -> float:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as answer:
        text = answer.read()
    assert b"okta_risk_output_spool_waiting_signals" in text, text[:500]
    return time.perf_counter() - started


def metrics_figures(paths: dict[int, Path], size: int) -> None:
    with (
        serving_metrics(paths[BASE]) as (small, small_first),
        serving_metrics(paths[size]) as (large, large_first),
    ):
        times: dict[str, list[float]] = {small: [], large: []}
        for _ in range(5):
            for url in times:
                times[url].append(scrape(url))
    compare("/metrics, spawn to first scrape", small_first, large_first, size)
    compare("/metrics scrape", median(times[small]), median(times[large]), size)


def summary_count(word: str, stderr: str) -> int:
    found = re.findall(rf"\b{word}=(\d+)", stderr)
    return int(found[-1]) if found else -1


def drain_figures(spool: Path, size: int, scratch: Path, paced: float, fast: float) -> None:
    one = [
        run([*PROGRAM, "enqueue", *spool_flags(scratch)], stdin=ONE_LINE).check() for _ in range(3)
    ]
    base_rss = median(f.max_rss_mb for f in one)
    print(f"peak RSS, one-line enqueue: {base_rss:.1f} MB")
    with emulator() as url:
        for rate, seconds in (("30/min", paced), ("1000/s", fast)):
            argv = [*PROGRAM, "drain", "--forever", *spool_flags(spool), "--rate-limit", rate]
            child = Child(argv, env=okta_env(url))
            time.sleep(min(STEADY_AFTER, seconds / 2))
            cpu_at, wall_at = child.cpu_so_far(), time.perf_counter()
            time.sleep(max(0.0, seconds - (wall_at - child.started)))
            cpu_end, wall_end = child.cpu_so_far(), time.perf_counter()
            child.terminate()
            done = child.finish(timeout=120).check()
            sent = summary_count("delivered", done.stderr)
            requests = summary_count("requests", done.stderr)
            print(
                f"peak RSS, drain --rate-limit {rate} with {size:,} backlogged: "
                f"{done.max_rss_mb:.1f} MB, {done.max_rss_mb / base_rss:.2f}x one-line "
                f"({requests} requests, {sent:,} signals delivered in {done.wall:.1f} s)"
            )
            if rate == "30/min":
                steady = (cpu_end - cpu_at) / (wall_end - wall_at)
                print(
                    f"CPU of a drain paced at 30/min, {size:,} backlogged: whole run "
                    f"{done.cpu:.2f} s / {done.wall:.1f} s = {100 * done.cpu / done.wall:.1f}% "
                    f"of a core; after its first {wall_at - child.started:.0f} s: "
                    f"{100 * steady:.1f}% of a core"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="N = 1,000,000 x F")
    parser.add_argument("--cycles", type=int, default=7, help="steady delivery steps per size")
    parser.add_argument("--paced", type=float, default=25.0, help="seconds of the paced drain")
    parser.add_argument("--fast", type=float, default=10.0, help="seconds of the fast drain")
    args = parser.parse_args()
    size = max(BASE, round(1_000_000 * args.scale))
    sizes = sorted({BASE, min(100_000, size), size})
    use_this_tree()
    print(f"machine: {machine()}")
    print(
        f"sizes: backlogs {' / '.join(f'{s:,}' for s in sizes)} (--scale {args.scale:g}), "
        f"--cycles {args.cycles}, --paced {args.paced:g} s, --fast {args.fast:g} s"
    )
    with tempfile.TemporaryDirectory(prefix="bench-backlog-") as name:
        folder = Path(name)
        paths = {s: folder / f"spool-{s}.db" for s in sizes}
        backlogs = {s: Backlog(paths[s], first=i * 100_000_000) for i, s in enumerate(sizes)}
        for s, backlog in backlogs.items():
            took = backlog.put(s)
            print(f"built: {s:,} signals in {took:.1f} s ({s / took:,.0f} signals/s, put_many)")
        lease_figures(backlogs, args.cycles)
        for s, backlog in backlogs.items():
            backlog.fill_to(s)  # back to its size after the last ack
            backlog.close()
        status_figures(paths, size)
        metrics_figures(paths, size)
        drain_figures(paths[size], size, folder / "scratch.db", args.paced, args.fast)


if __name__ == "__main__":
    main()
