"""Intake: `enqueue` against a bare json.loads loop over the same file, side by side in one run.

    make bench          (or: .venv/bin/python bench/intake.py [--lines N] [--prefill N]
                                   [--eve-lines N] [--sync-lines N] [--burst N])

Every `enqueue` is the CLI in its own process (`python -m okta_risk_output enqueue`, the
default --spool-sync normal: each batch is one durable commit), timed from spawn to exit and
accounted for by wait4. The yardstick is `for l in f: json.loads(l)` over the same file in
this process (median of 5, taken just before). A ratio is the yardstick's time over the
command's: the share of json.loads speed intake keeps (issue 13: >= 0.25, and >= 0.5 for
the Suricata stream). What each line means:

    bare json.loads loop       lines/s of the yardstick on the flat file
    enqueue, empty spool       --lines flat signals, distinct addresses, into a new spool
    enqueue, spool of P        the same file into a spool already holding --prefill signals
                               (put through the Store API before)
    ... net of start           the same ratio with a one-line enqueue's time subtracted
    flatness                   lines/s into the full spool / into the empty one (1.00: flat)
    enqueue (pipe), sync ...   the first --sync-lines of the file fed through a pipe (stdin)
                               into new spools, with --spool-sync normal and full (an fsync
                               per commit; docs/guarantees.md cites the cost), full / normal
    suricata                   `enqueue --profile suricata` of --eve-lines EVE records, 95%
                               flow/dns/http/tls and 5% alerts, over the yardstick on that file
    enqueue burst              with --burst N only (1000000: the issue's size; today ~5 min
                               on 2 cores): N more flat lines through a pipe into a new spool,
                               over the yardstick on the flat file (the same shape of line)
    peak RSS                   ru_maxrss of each enqueue above, and its ratio to that of a
                               one-line enqueue (issue 13: <= 100 MB, flat in the input's size)
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from common import (
    PROGRAM,
    Backlog,
    Child,
    Finished,
    address,
    bare_loads,
    feed,
    file_chunks,
    machine,
    median,
    run,
    spool_flags,
    use_this_tree,
)

ONE_LINE = b'{"ip":"203.0.113.7","riskLevel":"HIGH","message":"bench"}\n'
PREFILL_FIRST = 100_000_000
"""The prefilled spool's addresses start here: none of them is in the file."""
BURST_FIRST = 200_000_000


def flat_lines(first: int, count: int) -> Iterator[bytes]:
    """Flat signals as a feed sends them: distinct addresses, a message, a local time."""
    for n in range(first, first + count):
        record = {
            "ip": address(n),
            "riskLevel": ("HIGH", "MEDIUM", "LOW")[n % 3],
            "message": f"Password spray against VPN {n % 85 + 5} failures seq {n}",
            "timestamp": f"2026-11-27T10:{n // 600 % 60:02d}:{n // 10 % 60:02d}.123+02:00",
        }
        yield json.dumps(record).encode() + b"\n"


def eve_lines(count: int, seed: int = 13) -> Iterator[bytes]:
    """A Suricata EVE stream: 45% flow, 30% dns, 12% http, 8% tls, 5% alerts (from global
    addresses, so they become signals). Shapes as in sample_logs/suricata_eve.jsonl."""
    rng = random.Random(seed)
    signatures = [
        ("ET SCAN Nmap Scripting Engine User-Agent Detected (Nmap Scripting Engine)", 1),
        ("ET SCAN Suspicious inbound to MSSQL port 1433", 2),
        ("ET POLICY SSH session in progress on Unusual Port", 3),
        ("ET COMPROMISED Known Compromised or Hostile Host Traffic group 12", 2),
    ]
    for n in range(count):
        stamp = f"2026-11-27T11:{n // 6000 % 60:02d}:{n // 100 % 60:02d}.{n % 1000000:06d}+0100"
        inside = f"10.20.{rng.randrange(1, 8)}.{rng.randrange(1, 255)}"
        outside = f"192.0.2.{rng.randrange(1, 255)}"
        base = {
            "timestamp": stamp,
            "flow_id": rng.getrandbits(52),
            "in_iface": "eth1",
            "src_ip": inside,
            "src_port": rng.randrange(1024, 65535),
            "dest_ip": outside,
            "dest_port": 443,
            "proto": "TCP",
        }
        pick = rng.random()
        if pick < 0.05:
            signature, severity = rng.choice(signatures)
            source = address(n)
            record = {
                **base,
                "event_type": "alert",
                "src_ip": source,
                "dest_ip": inside,
                "dest_port": 22,
                "pkt_src": "wire/pcap",
                "alert": {
                    "action": "allowed",
                    "gid": 1,
                    "signature_id": 2009358,
                    "rev": 9,
                    "signature": signature,
                    "category": "Web Application Attack",
                    "severity": severity,
                },
                "app_proto": "tls",
                "direction": "to_server",
                "flow": {"pkts_toserver": 34, "pkts_toclient": 18, "bytes_toserver": 4134,
                         "bytes_toclient": 30102, "start": stamp},
            }  # fmt: skip
        elif pick < 0.50:
            record = {
                **base,
                "event_type": "flow",
                "app_proto": "tls",
                "flow": {"pkts_toserver": 20, "pkts_toclient": 41, "bytes_toserver": 953,
                         "bytes_toclient": 52210, "age": 4, "state": "closed",
                         "reason": "timeout", "alerted": False},
            }  # fmt: skip
        elif pick < 0.80:
            record = {
                **base,
                "event_type": "dns",
                "dest_port": 53,
                "proto": "UDP",
                "dns": {"type": "query", "id": rng.randrange(65536), "rrname": "www.example.com",
                        "rrtype": "A", "tx_id": 0},
            }  # fmt: skip
        elif pick < 0.92:
            record = {
                **base,
                "event_type": "http",
                "dest_port": 80,
                "tx_id": 0,
                "http": {"hostname": "www.example.org", "url": f"/index{n % 50}.html",
                         "http_user_agent": "curl/8.5.0", "http_method": "GET",
                         "protocol": "HTTP/1.1", "status": 200, "length": 1270},
            }  # fmt: skip
        else:
            record = {
                **base,
                "event_type": "tls",
                "tls": {"sni": "example.net", "version": "TLS 1.3",
                        "ja3": {"hash": "e7d705a3286e19ea42f587b344ee6865"}},
            }  # fmt: skip
        yield json.dumps(record, separators=(",", ":")).encode() + b"\n"


def write(path: Path, lines: Iterator[bytes]) -> Path:
    with path.open("wb") as out:
        out.writelines(lines)
    return path


def count_of(word: str, stderr: str) -> int:
    """A count from the summary line the command logs (`... spooled=N ...`)."""
    found = re.findall(rf"\b{word}=(\d+)", stderr)
    return int(found[-1]) if found else -1


def enqueue(spool: Path, *args: str, stdin: bytes | Path | None = None) -> Finished:
    return run([*PROGRAM, "enqueue", *spool_flags(spool), *args], stdin=stdin).check()


def piped(spool: Path, source: Path, *args: str) -> Finished:
    """enqueue reading its stdin from a pipe, which a thread fills from the file."""
    child = Child([*PROGRAM, "enqueue", *spool_flags(spool), *args], stdin=subprocess.PIPE)
    feed(child.process.stdin, file_chunks(source))
    finished = child.finish().check()
    assert count_of("spooled", finished.stderr) == count_lines(source), finished.stderr[-500:]
    return finished


def count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


def ratio_line(label: str, lines: int, took: float, loads: float) -> str:
    return (
        f"{label:<40} {lines / took:>10,.0f} lines/s  {loads / took:6.3f} of json.loads speed"
        f"  ({took:.2f} s)"
    )


def flat_figures(
    folder: Path, flat: Path, lines: int, prefill: int, start: float
) -> tuple[float, Finished, Finished]:
    """Figure 1: flat signals into an empty spool and into one of `prefill` signals."""
    loads = median(bare_loads(flat) for _ in range(5))
    empty = enqueue(folder / "empty.db", str(flat))
    prefilled = Backlog(folder / "full.db", PREFILL_FIRST)
    built = prefilled.put(prefill)
    prefilled.close()
    loads_again = median(bare_loads(flat) for _ in range(5))
    full = enqueue(folder / "full.db", str(flat))
    for finished in (empty, full):
        assert count_of("spooled", finished.stderr) == lines, finished.stderr[-500:]
    print(f"{'bare json.loads loop':<40} {lines / loads:>10,.0f} lines/s")
    print(ratio_line("enqueue, empty spool", lines, empty.wall, loads))
    print(ratio_line(f"enqueue, spool of {prefill:,}", lines, full.wall, loads_again))
    print(
        f"  ... net of start (- one-line enqueue, {start * 1000:.0f} ms): "
        f"{loads / (empty.wall - start):.3f} (empty), "
        f"{loads_again / (full.wall - start):.3f} (spool of {prefill:,})"
    )
    print(
        f"flatness: lines/s into the spool of {prefill:,} / into the empty one = "
        f"{empty.wall / full.wall:.2f}  (the {prefill:,} were put in {built:.1f} s "
        f"through put_many, {prefill / built:,.0f} signals/s)"
    )
    return loads, empty, full


def sync_figures(folder: Path, flat: Path, lines: int) -> list[Finished]:
    """The first `lines` of the flat file through a pipe, with --spool-sync normal and full
    (an fsync per commit; docs/guarantees.md cites its cost), into new spools."""
    part = folder / "part.jsonl"
    with flat.open("rb") as source:
        write(part, (line for line, _ in zip(source, range(lines), strict=False)))
    loads = median(bare_loads(part) for _ in range(5))
    normal = piped(folder / "sync-normal.db", part)
    full = piped(folder / "sync-full.db", part, "--spool-sync", "full")
    for label, finished in (("normal", normal), ("full", full)):
        print(ratio_line(f"enqueue (pipe), sync {label}, {lines:,}", lines, finished.wall, loads))
    print(f"  ... --spool-sync full takes {full.wall / normal.wall:.2f}x the time of normal")
    return [normal, full]


def suricata_figure(folder: Path, eve: Path, lines: int) -> Finished:
    """Figure 2: an EVE stream through the suricata profile, most of it skipped."""
    loads = median(bare_loads(eve) for _ in range(5))
    suricata = enqueue(folder / "eve.db", "--profile", "suricata", str(eve))
    print(f"{'bare json.loads loop, EVE':<40} {lines / loads:>10,.0f} lines/s")
    print(ratio_line("enqueue --profile suricata", lines, suricata.wall, loads))
    print(
        f"  ({count_of('spooled', suricata.stderr):,} spooled, "
        f"{count_of('skipped', suricata.stderr):,} skipped)"
    )
    return suricata


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000, help="flat signals (200,000)")
    parser.add_argument("--prefill", type=int, default=300_000, help="signals already held")
    parser.add_argument("--eve-lines", type=int, default=200_000, help="Suricata EVE records")
    parser.add_argument("--sync-lines", type=int, default=25_000, help="lines per sync mode")
    parser.add_argument("--burst", type=int, default=0, help="lines through a pipe (0: none)")
    args = parser.parse_args()
    use_this_tree()
    with tempfile.TemporaryDirectory(prefix="bench-intake-") as name:
        folder = Path(name)
        flat = write(folder / "signals.jsonl", flat_lines(0, args.lines))
        eve = write(folder / "eve.jsonl", eve_lines(args.eve_lines))
        print(f"machine: {machine()}")
        print(
            f"sizes: --lines {args.lines:,} ({flat.stat().st_size:,} bytes), --prefill "
            f"{args.prefill:,}, --eve-lines {args.eve_lines:,} ({eve.stat().st_size:,} bytes), "
            f"--sync-lines {args.sync_lines:,}, --burst {args.burst:,}"
        )
        one = [enqueue(folder / "one.db", stdin=ONE_LINE) for _ in range(3)]
        start = median(f.wall for f in one)
        loads, empty, full = flat_figures(folder, flat, args.lines, args.prefill, start)
        args.sync_lines = min(args.sync_lines, args.lines)
        normal, synced = sync_figures(folder, flat, args.sync_lines)
        suricata = suricata_figure(folder, eve, args.eve_lines)
        measured = [
            (f"enqueue of {args.lines:,} lines (file), empty spool", empty),
            (f"enqueue of {args.lines:,} lines (file), spool of {args.prefill:,}", full),
            (f"enqueue of {args.sync_lines:,} lines (pipe), sync normal", normal),
            (f"enqueue of {args.sync_lines:,} lines (pipe), sync full", synced),
            (f"enqueue --profile suricata of {args.eve_lines:,} (file)", suricata),
        ]
        if args.burst:
            flat.unlink()
            eve.unlink()
            source = write(folder / "burst.jsonl", flat_lines(BURST_FIRST, args.burst))
            burst = piped(folder / "burst.db", source)
            scaled = loads * args.burst / args.lines  # the yardstick's time for as many lines
            print(
                ratio_line(
                    f"enqueue burst of {args.burst:,} (pipe)", args.burst, burst.wall, scaled
                )
            )
            measured.append((f"enqueue burst of {args.burst:,} lines (pipe)", burst))
    base_rss = median(f.max_rss_mb for f in one)
    print(f"peak RSS, one-line enqueue: {base_rss:6.1f} MB")
    for label, finished in measured:
        print(
            f"peak RSS, {label}: {finished.max_rss_mb:6.1f} MB, "
            f"{finished.max_rss_mb / base_rss:.2f}x one-line"
        )
    if not args.burst:
        print("  (no --burst: --burst 1000000 adds the issue's 1,000,000-line burst)")


if __name__ == "__main__":
    main()
