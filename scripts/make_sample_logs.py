"""Write the sample input files in sample_logs/ (deterministic: same seed, same bytes).

    python scripts/make_sample_logs.py [--out DIR]

Files written:
  signals.jsonl      300 flat signals as a SIEM, IDS or firewall would emit them (all valid)
  risk_events.jsonl  20 RiskEvents as a risk provider integration would send them (all valid)
  broken.jsonl       one line per failure case, plus a BOM line, a CRLF line and blank lines
  README.md          what each file holds, and the line table for broken.jsonl

Only documentation address ranges are used (RFC 5737 and RFC 3849), so no real host is
named: 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 and 2001:db8::/32.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import random
import re
import textwrap
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

SEED = 20261127
SIGNAL_COUNT = 300
RISK_EVENT_COUNT = 20
MAX_LINE_BYTES = 1024 * 1024

UTC = timezone(timedelta(0))  # timezone.utc; datetime.UTC needs Python 3.11
HOUR_START = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)
HOUR_MS = 3_600_000
IPV4_NETS = ("192.0.2", "198.51.100", "203.0.113")
DOC_NETWORKS = tuple(
    ipaddress.ip_network(net)
    for net in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
)
LEVELS = ("HIGH", "MEDIUM", "LOW")
MESSAGE_RE = re.compile(r"[a-zA-Z0-9 .\-_]{0,512}")

# Timestamp forms a mixed feed carries. Counts for signals.jsonl; they add up to 300.
SIGNAL_FORMS: dict[str, int] = {
    "z_ms": 194,  # 2026-11-27T10:15:30.123Z (Okta's own form)
    "z_s": 24,  # 2026-11-27T10:15:30Z
    "plus2_ms": 14,  # 2026-11-27T12:15:30.123+02:00
    "plus2_s": 4,  # 2026-11-27T12:15:30+02:00
    "minus5_ms": 14,  # 2026-11-27T05:15:30.123-05:00
    "minus5_s": 4,  # 2026-11-27T05:15:30-05:00
    "epoch_s": 20,  # 1795774530
    "epoch_ms": 20,  # 1795774530123
    "none": 6,  # no timestamp at all
}
WHOLE_SECOND_FORMS = ("z_s", "plus2_s", "minus5_s", "epoch_s")
OFFSETS = {"plus2": timedelta(hours=2), "minus5": timedelta(hours=-5)}

# Exact level counts for signals.jsonl: 20% HIGH, 35% MEDIUM, 45% LOW.
LEVEL_COUNTS = {"HIGH": 60, "MEDIUM": 105, "LOW": 135}
IPV6_COUNT = 60  # 1 in 5
NO_MESSAGE_COUNT = 30
EXPIRES_COUNT = 30
# riskLevel spellings a sloppy producer emits; the plugin upper-cases them.
LEVEL_VARIANTS = {"HIGH": ("high", "High"), "MEDIUM": ("medium", "Medium"), "LOW": ("low", "Low")}
ODD_CASE_COUNT = 8
# The same IP reported again: (family, levels in time order). Same-level repeats also repeat
# the message, as a feed re-emitting an unchanged verdict does.
REPEATS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (4, ("LOW", "MEDIUM", "HIGH")),
    (4, ("MEDIUM", "MEDIUM")),
    (4, ("HIGH", "HIGH")),
    (4, ("LOW", "HIGH")),
    (4, ("HIGH", "MEDIUM")),
    (6, ("MEDIUM", "LOW")),
    (6, ("LOW", "LOW")),
)

HOST_PREFIXES = ("WS-FIN", "WS-HR", "WS-ENG", "SRV-DB", "SRV-APP", "LT-SALES", "VDI")
PORTS = (22, 23, 25, 445, 1433, 3306, 3389, 5432, 5900, 6379, 8080, 9200)
ACCOUNTS = ("svc_backup", "svc_jenkins", "admin_ops", "j.doe", "a.smith", "helpdesk_01")

MESSAGES: dict[str, tuple[str, ...]] = {
    "HIGH": (
        "EDR C2 beacon to host {host}",
        "Known Tor exit node",
        "Password spray against VPN {n} failed logins in {m} minutes",
        "Suricata ET TROJAN Cobalt Strike Beacon Observed",
        "Threat intel match ransomware C2 infrastructure",
        "Brute force success after {n} failed logins for {acct}",
        "Credential stuffing against SSO {n} accounts targeted",
        "MFA push fatigue {k} denied pushes for {acct}",
        "EDR detected Mimikatz download from this address",
        "Suricata ET EXPLOIT Log4j RCE attempt CVE-2021-44228",
        "Impossible travel from new ASN followed by mailbox rule change",
    ),
    "MEDIUM": (
        "Impossible travel from new ASN",
        "Suricata ET SCAN Nmap SYN scan",
        "WAF blocked SQL injection attempt",
        "WAF blocked path traversal attempt",
        "WAF blocked cross-site scripting attempt",
        "SSH brute force {n} attempts against bastion",
        "Failed logins {n} in {m} minutes from single source",
        "Anonymous proxy or commercial VPN exit",
        "Sign-in from new country for {acct}",
        "Threat intel feed abuse confidence {pct}",
        "Suricata ET SCAN Suspicious inbound to MSSQL port 1433",
        "Firewall deny burst {n} blocked connections to port {port}",
    ),
    "LOW": (
        "Firewall deny {n} connections to port {port}",
        "Suricata ET SCAN Potential SSH Scan",
        "Port scan {n} ports probed in {m} minutes",
        "Single failed login from unfamiliar address",
        "Crawler ignoring robots.txt",
        "Hosting provider ASN",
        "WAF rate limit triggered {n} requests per minute",
        "Suricata ET POLICY curl User-Agent Outbound",
        "Deprecated TLS 1.0 handshake",
        "ICMP sweep from external host",
        "Suricata ET INFO Observed DNS Query to .onion proxy Domain",
    ),
}
CAMPAIGNS = (
    ("HIGH", "Botnet C2 infrastructure feed update"),
    ("HIGH", "Active password spray campaign against SSO"),
    ("MEDIUM", "Residential proxy network used for credential stuffing"),
    ("MEDIUM", "Scanner cluster probing VPN gateways"),
    ("LOW", "Known benign research scanner"),
)


# ----------------------------------------------------------------------------- helpers


def format_time(instant_ms: int, form: str) -> str | int:
    """instant_ms (epoch milliseconds, UTC) written in one of the SIGNAL_FORMS forms."""
    if form == "epoch_ms":
        return instant_ms
    if form == "epoch_s":
        return instant_ms // 1000
    when = datetime.fromtimestamp(instant_ms // 1000, tz=UTC)
    zone, _, precision = form.partition("_")
    suffix = "Z"
    if zone in OFFSETS:
        when = when + OFFSETS[zone]
        hours = int(OFFSETS[zone].total_seconds()) // 3600
        suffix = f"{'+' if hours >= 0 else '-'}{abs(hours):02d}:00"
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    if precision == "ms":
        text += f".{instant_ms % 1000:03d}"
    return text + suffix


def compact(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=True)


class IpPool:
    """Unique addresses from the documentation ranges, drawn without replacement."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        hosts = [f"{net}.{h}" for net in IPV4_NETS for h in range(1, 255)]
        rng.shuffle(hosts)
        self._v4 = hosts
        self._v6_used: list[str] = []

    def v4(self) -> str:
        return self._v4.pop()

    def v6(self) -> str:
        while True:
            rng = self._rng
            shape = rng.randrange(3)
            if shape == 0:  # 2001:db8:85a3::8a2e:370:7334
                groups = [rng.randrange(1, 0x10000), 0, 0]
                groups += [rng.randrange(0x10000) for _ in range(3)]
            elif shape == 1:  # 2001:db8:4:12::a
                groups = [rng.randrange(1, 0x100), rng.randrange(1, 0x100), 0, 0, 0]
                groups += [rng.randrange(1, 0x100)]
            else:  # 2001:db8:1f70:999:de8:7648:3a49:6e8
                groups = [rng.randrange(0x10000) for _ in range(6)]
            value = (0x20010DB8 << 96) | sum(g << (16 * (5 - i)) for i, g in enumerate(groups))
            text = str(ipaddress.IPv6Address(value))
            assert is_documentation(text), text
            if text not in self._v6_used:
                self._v6_used.append(text)
                return text

    def take(self, family: int) -> str:
        return self.v6() if family == 6 else self.v4()


def is_documentation(ip: str) -> bool:
    address = ipaddress.ip_address(ip)
    return any(address in net for net in DOC_NETWORKS)


def make_message(rng: random.Random, level: str) -> str:
    template = rng.choice(MESSAGES[level])
    text = template.format(
        host=f"{rng.choice(HOST_PREFIXES)}-{rng.randrange(1, 999):03d}",
        n=rng.randrange(12, 480),
        m=rng.choice((2, 5, 10, 15, 30)),
        k=rng.randrange(6, 40),
        acct=rng.choice(ACCOUNTS),
        pct=rng.randrange(55, 100),
        port=rng.choice(PORTS),
    )
    assert MESSAGE_RE.fullmatch(text), text
    return text


# ----------------------------------------------------------------------------- signals


@dataclass
class Signal:
    instant_ms: int
    form: str
    family: int
    level: str
    ip: str = ""
    message: str | None = None
    level_text: str = ""
    expires_ms: int | None = None

    def as_json(self) -> dict[str, Any]:
        obj: dict[str, Any] = {}
        if self.form != "none":
            obj["timestamp"] = format_time(self.instant_ms, self.form)
        obj["ip"] = self.ip
        obj["riskLevel"] = self.level_text or self.level
        if self.message is not None:
            obj["message"] = self.message
        if self.expires_ms is not None:
            obj["expiresAt"] = format_time(self.expires_ms, self.form)
        return obj


def make_signals(rng: random.Random, pool: IpPool) -> list[dict[str, Any]]:
    n = SIGNAL_COUNT
    instants = sorted(rng.randrange(HOUR_MS) for _ in range(n))
    forms = [form for form, count in SIGNAL_FORMS.items() for _ in range(count)]
    levels = [level for level, count in LEVEL_COUNTS.items() for _ in range(count)]
    families = [6] * IPV6_COUNT + [4] * (n - IPV6_COUNT)
    assert len(forms) == len(levels) == len(families) == n
    for column in (forms, levels, families):
        rng.shuffle(column)
    start_ms = int(HOUR_START.timestamp() * 1000)
    signals = []
    for offset, form, level, family in zip(instants, forms, levels, families, strict=True):
        instant = start_ms + offset
        if form in WHOLE_SECOND_FORMS:
            instant -= instant % 1000
        signals.append(Signal(instant, form, family, level))
    signals.sort(key=lambda s: s.instant_ms)
    # A few events arrive late: swap some neighbours, as a merged feed does.
    for i in rng.sample(range(n - 1), 5):
        signals[i], signals[i + 1] = signals[i + 1], signals[i]

    for s in signals:
        s.ip = pool.take(s.family)
        s.message = make_message(rng, s.level)
    for i in rng.sample(range(n), NO_MESSAGE_COUNT):
        signals[i].message = None

    # Repeated IPs: pick records of the wanted family and levels, in time order.
    used: list[int] = []
    for family, wanted in REPEATS:
        chosen: list[int] = []
        for level in wanted:
            after = chosen[-1] + 1 if chosen else 0
            options = [
                i
                for i in range(after, n - 10 * (len(wanted) - len(chosen) - 1))
                if i not in used and signals[i].family == family and signals[i].level == level
            ]
            chosen.append(rng.choice(options[: max(1, len(options) // 2)]))
        first = signals[chosen[0]]
        for i in chosen[1:]:
            signals[i].ip = first.ip
            if signals[i].level == first.level:
                signals[i].message = first.message
        used.extend(chosen)

    with_time = [i for i, s in enumerate(signals) if s.form != "none"]
    for i in rng.sample(with_time, EXPIRES_COUNT):
        hours = rng.choice((2, 3, 4, 6, 8))
        signals[i].expires_ms = signals[i].instant_ms + hours * 3_600_000
    for i in rng.sample(range(n), ODD_CASE_COUNT):
        signals[i].level_text = rng.choice(LEVEL_VARIANTS[signals[i].level])
    return [s.as_json() for s in signals]


# ----------------------------------------------------------------------------- risk events


def make_risk_events(rng: random.Random, pool: IpPool) -> list[dict[str, Any]]:
    n = RISK_EVENT_COUNT
    start_ms = int(HOUR_START.timestamp() * 1000)
    instants = sorted(start_ms + rng.randrange(HOUR_MS) for _ in range(n))
    counts = [rng.randint(1, 12) for _ in range(n)]
    one, twelve = rng.sample(range(n), 2)
    counts[one], counts[twelve] = 1, 12
    forms = ["z_ms"] * (n - 4) + ["z_s", "plus2_ms", "minus5_s", "epoch_ms"]
    rng.shuffle(forms)
    events = []
    for instant, count, form in zip(instants, counts, forms, strict=True):
        if form in WHOLE_SECOND_FORMS:
            instant -= instant % 1000
        campaign = rng.random() < 0.4 and count > 1
        level, message = rng.choice(CAMPAIGNS)
        subjects = []
        for _ in range(count):
            subject: dict[str, Any] = {"ip": pool.take(6 if rng.random() < 0.2 else 4)}
            if campaign:
                subject["riskLevel"] = level
                subject["message"] = message
            else:
                lvl = rng.choices(LEVELS, weights=(20, 35, 45))[0]
                subject["riskLevel"] = lvl
                if rng.random() < 0.85:
                    subject["message"] = make_message(rng, lvl)
            subjects.append(subject)
        event: dict[str, Any] = {"timestamp": format_time(instant, form)}
        if rng.random() < 0.45:
            event["expiresAt"] = format_time(instant + rng.choice((1, 4, 12, 24)) * 3_600_000, form)
        event["subjects"] = subjects
        events.append(event)
    return events


# ----------------------------------------------------------------------------- broken


@dataclass
class BrokenLine:
    """One physical line of broken.jsonl and what the plugin should do with it.

    kind is the dead-letter kind (as in okta_risk_output/intake/records.py), "accepted" or
    "skipped";
    path is where the schema error is reported, for kind "invalid".
    """

    raw: bytes  # without the line terminator
    problem: str
    kind: str
    path: str = "$"
    why: str = ""
    ending: bytes = b"\n"

    @property
    def outcome(self) -> str:
        if self.kind == "skipped":
            return "skipped as blank (neither sent nor dead-lettered)"
        if self.kind == "accepted":
            return f"accepted: {self.why}"
        where = f" at `{self.path}`" if self.kind == "invalid" else ""
        return f"dead-lettered, kind `{self.kind}`{where}: {self.why}"


def signal_bytes(**fields: Any) -> bytes:
    base: dict[str, Any] = {"timestamp": "2026-11-27T10:30:00.000Z"}
    base.update(fields)
    return compact(base).encode("ascii")


def make_broken() -> list[BrokenLine]:
    ok_ip = "192.0.2.44"
    stamp = "2026-11-27T10:30:00.000Z"
    lines: list[BrokenLine] = []

    def add(raw: bytes, problem: str, kind: str, path: str = "$", why: str = "") -> None:
        lines.append(BrokenLine(raw, problem, kind, path, why))

    def blank() -> None:
        add(b"", "blank line", "skipped")

    def bad_ip(ip: str, problem: str) -> None:
        why = "not an IPv4 or IPv6 address"
        add(
            signal_bytes(ip=ip, riskLevel="HIGH", message="Scanner"),
            problem,
            "invalid",
            "$.ip",
            why,
        )

    bom_line = signal_bytes(ip="198.51.100.7", riskLevel="HIGH", message="Known Tor exit node")
    add(
        b"\xef\xbb\xbf" + bom_line,
        "UTF-8 byte-order mark before a valid signal",
        "accepted",
        why="BOM dropped by the reader; 1 event for 198.51.100.7",
    )
    add(
        b'{"ip": "192.0.2.1", "riskLevel": ',
        "not JSON (object cut off after `riskLevel`)",
        "not_json",
        why="JSON syntax error",
    )
    blank()
    add(b'["192.0.2.1","HIGH"]', "JSON array", "not_object", why="an array")
    add(b'"192.0.2.1 HIGH"', "JSON string", "not_object", why="a string")
    add(b"42", "JSON number", "not_object", why="a number")
    blank()
    blank()
    add(b"null", "JSON null", "not_object", why="null")
    depth = 200
    nested = '{"a":' * depth + json.dumps(ok_ip) + "}" * depth
    add(
        ('{"ip":' + nested + ',"riskLevel":"HIGH"}').encode("ascii"),
        f'`ip` nests {depth} levels of `{{"a": ...}}` ({depth + 1} objects deep)',
        "too_deep",
        why="deeper than the nesting limit",
    )
    big = signal_bytes(ip="192.0.2.45", riskLevel="LOW", message="A" * 1_100_000)
    assert len(big) > MAX_LINE_BYTES
    add(
        big,
        f"line of {len(big):,} bytes (over 1 MiB): a signal whose message is 1,100,000 `A`",
        "too_long",
        why="over the 1 MiB line limit; only a prefix is kept",
    )
    latin1 = signal_bytes(ip="192.0.2.46", riskLevel="MEDIUM", message="Login from cafe hotspot")
    add(
        latin1.replace(b"cafe", b"caf\xe9"),
        "invalid UTF-8: latin-1 byte 0xE9 (`caf\\xe9`) in the message",
        "not_utf8",
        why="byte 0xE9 is not UTF-8",
    )
    lines.append(
        BrokenLine(
            signal_bytes(ip="203.0.113.9", riskLevel="medium", message="Impossible travel"),
            "valid signal ending in CRLF (and riskLevel `medium`)",
            "accepted",
            why="CR dropped by the reader; 1 event for 203.0.113.9, riskLevel MEDIUM",
            ending=b"\r\n",
        )
    )
    blank()
    bad_ip("300.1.2.3", "IPv4 octet out of range: `300.1.2.3`")
    bad_ip("192.0.2.0/24", "CIDR instead of an address: `192.0.2.0/24`")
    bad_ip("2001:db8::1%eth0", "IPv6 zone id: `2001:db8::1%eth0`")
    bad_ip("192.000.2.1", "leading-zero octets: `192.000.2.1`")
    bad_ip("scanner.example.net", "hostname instead of an IP: `scanner.example.net`")
    add(
        signal_bytes(ip=ok_ip, riskLevel="CRITICAL"),
        "unknown riskLevel `CRITICAL`",
        "invalid",
        "$.riskLevel",
        "not one of HIGH, MEDIUM, LOW",
    )
    add(
        signal_bytes(ip=ok_ip, riskLevel="HIGH", message='Blocked <script> & "quotes"!'),
        'message with forbidden characters: `Blocked <script> & "quotes"!`',
        "accepted",
        why="sanitised (outside characters become spaces); rejected with --strict",
    )
    words = "Repeated WAF blocks from the same source across many virtual hosts "
    long_message = (words * 10)[:600]
    assert MESSAGE_RE.fullmatch(long_message[:512]) and len(long_message) == 600
    add(
        signal_bytes(ip=ok_ip, riskLevel="LOW", message=long_message),
        "message of 600 characters (allowed alphabet)",
        "accepted",
        why="cut to 512 characters; rejected with --strict",
    )
    add(
        signal_bytes(ip=ok_ip, riskLevel="HIGH", severity=5),
        'unknown field `"severity": 5` beside valid fields',
        "invalid",
        "$.severity",
        "unknown field",
    )
    blank()
    add(
        compact({"timestamp": stamp, "subjects": []}).encode("ascii"),
        "RiskEvent with empty `subjects`",
        "invalid",
        "$.subjects",
        "0 items; at least 1",
    )
    hosts = [f"203.0.113.{h}" for h in range(100, 151)]
    many = [{"ip": h, "riskLevel": "LOW", "message": "Scanner cluster"} for h in hosts]
    add(
        compact({"timestamp": stamp, "subjects": many}).encode("ascii"),
        "RiskEvent with 51 subjects",
        "invalid",
        "$.subjects",
        "51 items; at most 50",
    )
    add(
        signal_bytes(timestamp="yesterday", ip=ok_ip, riskLevel="HIGH"),
        "timestamp is not a date: `yesterday`",
        "invalid",
        "$.timestamp",
        "not a date-time (left as written, so the schema names it)",
    )
    add(
        signal_bytes(riskLevel="HIGH", message="No address"),
        "missing `ip`",
        "invalid",
        "$",
        "`ip` is required",
    )
    add(
        signal_bytes(ip=ok_ip, message="No level"),
        "missing `riskLevel`",
        "invalid",
        "$",
        "`riskLevel` is required",
    )
    assert b"\n" not in b"".join(line.raw for line in lines)
    return lines


# ----------------------------------------------------------------------------- README


def readme(signals: list[dict[str, Any]], events: list[dict[str, Any]], broken_table: str) -> str:
    v6 = sum(":" in s["ip"] for s in signals)
    levels = {lvl: sum(str(s["riskLevel"]).upper() == lvl for s in signals) for lvl in LEVELS}
    odd = sum(s["riskLevel"] not in LEVELS for s in signals)
    no_msg = sum("message" not in s for s in signals)
    no_ts = sum("timestamp" not in s for s in signals)
    expires = sum("expiresAt" in s for s in signals)
    ips = [s["ip"] for s in signals]
    repeated = sorted({ip for ip in ips if ips.count(ip) > 1})
    subjects = [len(e["subjects"]) for e in events]
    ev_expires = sum("expiresAt" in e for e in events)
    forms = wrap(", ".join(f"`{form}` {count}" for form, count in SIGNAL_FORMS.items()))
    return f"""# Sample logs

Input files for trying and testing `okta_risk_output`. Every file is JSON lines (one JSON
object per line). They are generated, not captured: do not edit them by hand, run

    python scripts/make_sample_logs.py

from the repository root (stdlib only, fixed seed {SEED}; the same run writes the same bytes,
this README included).

All addresses come from the documentation ranges 192.0.2.0/24, 198.51.100.0/24,
203.0.113.0/24 and 2001:db8::/32, so nothing real is named and a "skip private addresses"
rule keeps them.

## signals.jsonl

{len(signals)} flat signals (`ip`, `riskLevel`, `message`?, `timestamp`?, `expiresAt`?) as a
SIEM, IDS or firewall feed would emit them, roughly in time order over one hour
(2026-11-27 10:00 to 11:00 UTC), with a few late arrivals. All lines are valid once the
plugin has normalised them.

- {len(signals) - v6} IPv4, {v6} IPv6.
- riskLevel: HIGH {levels["HIGH"]}, MEDIUM {levels["MEDIUM"]}, LOW {levels["LOW"]};
  {odd} of them spelt in lower or mixed case (`high`, `Medium`, ...).
- {no_msg} without a message; messages use only letters, digits, space, `.`, `-`, `_`.
- Timestamp forms (lines):
{forms}.
  `z_ms` is `2026-11-27T10:15:30.123Z`, `z_s` has no fraction, `plus2`/`minus5` carry a
  `+02:00`/`-05:00` offset, `epoch_s`/`epoch_ms` are JSON integers; {no_ts} lines have none.
- {expires} lines carry an `expiresAt` 2 to 8 hours after the timestamp, in the same form.
- {len(repeated)} addresses are reported more than once, sometimes with a different level
  (e.g. LOW, then MEDIUM, then HIGH) and sometimes as an exact repeat:
{wrap(", ".join(f"`{ip}`" for ip in repeated))}.

## risk_events.jsonl

{len(events)} lines in Okta's RiskEvent form (`timestamp`, `expiresAt`?, `subjects`) as a risk
provider integration would send them: {min(subjects)} to {max(subjects)} subjects per event
({sum(subjects)} in all), riskLevel upper case, {ev_expires} events with an `expiresAt`. Some
events are campaign updates (every subject shares one level and message), the others mix
levels. Most timestamps are Okta's `...T10:15:30.123Z`; a few use another form
(no fraction, an offset, epoch milliseconds) to exercise normalisation. All lines are valid.

## broken.jsonl

One line per failure case, plus the tolerated oddities (a UTF-8 byte-order mark before the
first line, a CRLF line ending, blank lines). Written in binary: the bytes are exact. It
holds a line over 1 MiB, so open it with care. Line numbers are 1-based physical lines
(counted by `\\n`). Dead-letter kinds and paths are those of `okta_risk_output/intake/records.py`;
errors in a flat signal are reported at the paths the user wrote (`$.ip`, not
`$.subjects[0].ip`).

{broken_table}
"""


def wrap(text: str) -> str:
    """A README list item's continuation lines."""
    return textwrap.fill(text, width=92, initial_indent="  ", subsequent_indent="  ")


def cell(text: str) -> str:
    """Text made safe for a Markdown table cell."""
    return text.replace("|", "\\|")


def broken_table(lines: list[BrokenLine]) -> str:
    rows = ["| Line | What is wrong | Expected outcome |", "| ---: | --- | --- |"]
    for number, line in enumerate(lines, start=1):
        rows.append(f"| {number} | {cell(line.problem)} | {cell(line.outcome)} |")
    return "\n".join(rows)


# ----------------------------------------------------------------------------- main


def write_jsonl(path: Path, objects: list[dict[str, Any]]) -> None:
    path.write_bytes(b"".join(compact(obj).encode("ascii") + b"\n" for obj in objects))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    default_out = Path(__file__).resolve().parents[1] / "sample_logs"
    parser.add_argument("--out", type=Path, default=default_out, help="output folder")
    parser.add_argument(
        "--hour-start",
        help="UTC start of the hour the samples fall in (ISO 8601; default 2026-11-27T10:00Z,"
        " the files in sample_logs/); `make demo` passes a time just before now, so that no"
        " sample has expired whatever the date",
    )
    args = parser.parse_args()
    if args.hour_start:
        global HOUR_START
        HOUR_START = datetime.fromisoformat(args.hour_start.replace("Z", "+00:00"))
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    rng = random.Random(SEED)
    pool = IpPool(rng)
    signals = make_signals(rng, pool)
    events = make_risk_events(rng, pool)
    broken = make_broken()

    subjects = [sub for e in events for sub in e["subjects"]]
    assert all(is_documentation(x["ip"]) for x in [*signals, *subjects])
    write_jsonl(out / "signals.jsonl", signals)
    write_jsonl(out / "risk_events.jsonl", events)
    (out / "broken.jsonl").write_bytes(b"".join(line.raw + line.ending for line in broken))
    table = broken_table(broken)
    (out / "README.md").write_text(readme(signals, events, table), encoding="utf-8")

    for name in ("signals.jsonl", "risk_events.jsonl", "broken.jsonl", "README.md"):
        data = (out / name).read_bytes()
        lines = data.count(b"\n")
        print(f"{name:18} {lines:4d} lines {len(data):10,d} bytes")
    print()
    print(table)


if __name__ == "__main__":
    main()
