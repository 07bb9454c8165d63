"""Write the mapping-profile samples in sample_logs/ (deterministic: same seed, same bytes).

    python scripts/make_profile_samples.py [--out DIR]

Files written, one per built-in profile, each a realistic mix of what its source emits:
  suricata_eve.jsonl        Suricata EVE JSON: alerts and the other event types
  zeek_notice.jsonl         Zeek notice.log in JSON
  cef.log                   CEF over syslog (RFC 3164, RFC 5424, bare) among other syslog lines
  ecs_alerts.jsonl          Elastic Security alerts (flat kibana.alert.* keys), ECS events
  splunk_es_notables.jsonl  Splunk ES notable events, as a search exports them to JSON
  PROFILES.md               what each file holds and what its profile makes of it

Every record is built from the outcome it must have: the signal it maps to (its message
written out here by hand, in Okta's alphabet) or the reason it is skipped or rejected.
tests/unit/test_profiles.py maps each file with its profile and compares with `build()`, so
the samples double as the profiles' acceptance tests. Subjects that must map use the
documentation ranges only (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32);
those that must be skipped use private, loopback, link-local or carrier-grade NAT addresses.
Stdlib only.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import random
import textwrap
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

SEED = 20261127
UTC = timezone(timedelta(0))
START = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Case:
    line: str
    expect: dict[str, Any] | str
    """The flat signal the line maps to, "skip:REASON" or "reject:KIND"."""


@dataclass(frozen=True)
class Sample:
    file: str
    profile: str
    title: str
    cases: list[Case]


def build() -> list[Sample]:
    """Every sample file's cases, in file order."""
    rng = random.Random(SEED)
    return [
        Sample("suricata_eve.jsonl", "suricata", "Suricata EVE JSON", _suricata(rng)),
        Sample("zeek_notice.jsonl", "zeek", "Zeek notice.log (JSON)", _zeek(rng)),
        Sample("cef.log", "cef", "CEF over syslog", _cef(rng)),
        Sample("ecs_alerts.jsonl", "ecs", "ECS / Elastic Security alerts", _ecs(rng)),
        Sample("splunk_es_notables.jsonl", "splunk-es", "Splunk ES notables", _splunk(rng)),
    ]


# -- shared helpers -------------------------------------------------------------------------

Plan = tuple[str, Any]
"""(kind of line, what that kind needs): rendered once the plan has its moment in time."""


def _rows(table: str) -> list[list[str]]:
    """A table written as lines of ' | '-separated cells."""
    return [[cell.strip() for cell in line.split(" | ")] for line in table.strip().splitlines()]


def _timed(
    rng: random.Random, plans: list[Plan], render: Callable[[Plan, datetime], Case]
) -> list[Case]:
    """Shuffle the plans, give each a moment (in time order over the hour), render them."""
    rng.shuffle(plans)
    offsets = sorted(rng.randrange(0, 3_600_000_000) for _ in plans)
    moments = [START + timedelta(microseconds=us) for us in offsets]
    return [render(plan, moment) for plan, moment in zip(plans, moments, strict=True)]


def _okta(moment: datetime) -> str:
    """Okta's form: UTC, milliseconds truncated."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _to_ms(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _epoch(moment: datetime) -> float:
    return (moment - EPOCH) / timedelta(seconds=1)


def _epoch_ms(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)


def _doc_v4(rng: random.Random) -> str:
    return f"{rng.choice(('192.0.2', '198.51.100', '203.0.113'))}.{rng.randrange(1, 255)}"


def _doc_v6(rng: random.Random) -> str:
    return f"2001:db8:{rng.randrange(1, 0xFFFF):x}::{rng.randrange(1, 0xFFFF):x}"


def _inside(rng: random.Random, net: str = "10.20") -> str:
    return f"{net}.{rng.randrange(1, 9)}.{rng.randrange(2, 250)}"


def _signal(ip: str, level: str, message: str, moment: datetime) -> dict[str, Any]:
    return {"ip": ip, "riskLevel": level, "message": message, "timestamp": _okta(moment)}


def _dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, separators=(",", ":"))


# Addresses that must be skipped, with the reason; shared by the files.
NON_GLOBAL = {
    "private": ("10.20.3.14", "192.168.50.23", "172.20.0.9", "fd12:3456:789a::9"),
    "loopback": ("127.0.0.1",),
    "cgnat": ("100.64.12.7",),
    "link-local": ("fe80::21e:67ff:fe4d:1a2b", "169.254.10.3"),
}


def _non_global(reasons: str) -> list[tuple[str, str]]:
    """(address, reason) for each 'reason' or 'reason#n' in a space-separated list."""
    picked = []
    for word in reasons.split():
        reason, _, n = word.partition("#")
        picked.append((NON_GLOBAL[reason][int(n or 0)], reason))
    return picked


# -- Suricata EVE JSON ------------------------------------------------------------------------
# https://docs.suricata.io/en/latest/output/eve/eve-json-format.html
# signature | sid | category | alert.severity | the message Okta gets
SURICATA_RULES = _rows("""
ET SCAN Suspicious inbound to MSSQL port 1433 | 2010935 | Potentially Bad Traffic | 2 | Suricata ET SCAN Suspicious inbound to MSSQL port 1433
ET SCAN Potential SSH Scan | 2001219 | Attempted Information Leak | 2 | Suricata ET SCAN Potential SSH Scan
ET EXPLOIT Apache log4j RCE Attempt (http ldap) (CVE-2021-44228) | 2034647 | Attempted Administrator Privilege Gain | 1 | Suricata ET EXPLOIT Apache log4j RCE Attempt http ldap CVE-2021-44228
ET SCAN Nmap Scripting Engine User-Agent Detected (Nmap Scripting Engine) | 2009358 | Web Application Attack | 1 | Suricata ET SCAN Nmap Scripting Engine User-Agent Detected Nmap Scripting Engine
ET DROP Spamhaus DROP Listed Traffic Inbound group 12 | 2400011 | Misc Attack | 2 | Suricata ET DROP Spamhaus DROP Listed Traffic Inbound group 12
ET CINS Active Threat Intelligence Poor Reputation IP group 45 | 2403344 | Misc Attack | 2 | Suricata ET CINS Active Threat Intelligence Poor Reputation IP group 45
ET SCAN LibSSH Based Frequent SSH Connections Likely BruteForce Attack | 2006546 | Attempted Administrator Privilege Gain | 1 | Suricata ET SCAN LibSSH Based Frequent SSH Connections Likely BruteForce Attack
GPL ATTACK_RESPONSE id check returned root | 2100498 | Potentially Bad Traffic | 2 | Suricata GPL ATTACK_RESPONSE id check returned root
ET WEB_SERVER Possible SQL Injection Attempt UNION SELECT | 2006446 | Web Application Attack | 1 | Suricata ET WEB_SERVER Possible SQL Injection Attempt UNION SELECT
SURICATA HTTP unable to match response to request | 2221010 | Generic Protocol Command Decode | 3 | Suricata SURICATA HTTP unable to match response to request
ET POLICY Inbound RDP Connection: Non-Standard Port | 2023753 | Misc activity | 3 | Suricata ET POLICY Inbound RDP Connection Non-Standard Port
LOCAL Login portal hit from hosting provider ASN | 1000004 | Misc activity | 4 | Suricata LOCAL Login portal hit from hosting provider ASN
""")  # noqa: E501
SURICATA_LEVEL = {"1": "HIGH", "2": "MEDIUM", "3": "LOW", "4": "LOW"}
SURICATA_OTHER = (
    *("flow", "flow", "flow", "flow", "dns", "dns", "http", "http", "tls"),
    *("fileinfo", "anomaly", "stats"),
)
SURICATA_OFFSET = ("+0100", timedelta(hours=1))  # the sensor writes its local time (CET)


def _suricata(rng: random.Random) -> list[Case]:
    plans: list[Plan] = []
    for i in range(20):
        v6 = i % 7 == 3
        src, dest = (_doc_v6(rng), "fd00:10:20::1e") if v6 else (_doc_v4(rng), _inside(rng))
        plans.append(("alert", (src, dest, SURICATA_RULES[i % len(SURICATA_RULES)], None)))
    for src, reason in _non_global("private private#1 loopback cgnat link-local"):
        rule = SURICATA_RULES[rng.randrange(len(SURICATA_RULES))]
        plans.append(("alert", (src, _doc_v4(rng), rule, "skip:" + reason)))
    plans += [(kind, None) for kind in SURICATA_OTHER]

    def render(plan: Plan, moment: datetime) -> Case:
        kind, detail = plan
        suffix, offset = SURICATA_OFFSET
        stamp = (moment + offset).strftime("%Y-%m-%dT%H:%M:%S.%f") + suffix
        if kind == "stats":
            stats = {"uptime": 86400 + rng.randrange(3600), "capture": {"kernel_drops": 12}}
            return Case(
                _dumps({"timestamp": stamp, "event_type": "stats", "stats": stats}),
                "skip:not_alert",
            )
        record: dict[str, Any] = {
            "timestamp": stamp,
            "flow_id": rng.randrange(10**14, 10**16),
            "in_iface": "eth1",
            "event_type": kind,
        }
        if kind != "alert":
            record.update(_suricata_tuple(rng, _inside(rng), _doc_v4(rng), kind))
            record.update(_suricata_details(rng, kind))
            return Case(_dumps(record), "skip:not_alert")
        src, dest, (signature, sid, category, severity, message), skip = detail
        record.update(_suricata_tuple(rng, src, dest, kind))
        record["pkt_src"] = "wire/pcap"
        record["alert"] = {
            "action": "allowed",
            "gid": 1,
            "signature_id": int(sid),
            "rev": rng.randrange(2, 12),
            "signature": signature,
            "category": category,
            "severity": int(severity),
        }
        record["app_proto"] = rng.choice(("http", "tls", "ssh", "failed"))
        record["direction"] = "to_server"
        record["flow"] = {
            "pkts_toserver": rng.randrange(1, 40),
            "pkts_toclient": rng.randrange(0, 40),
            "bytes_toserver": rng.randrange(60, 9000),
            "bytes_toclient": rng.randrange(0, 90000),
            "start": stamp,
        }
        expect = skip or _signal(src, SURICATA_LEVEL[severity], message, moment)
        return Case(_dumps(record), expect)

    return _timed(rng, plans, render)


def _suricata_tuple(rng: random.Random, src: str, dest: str, kind: str) -> dict[str, Any]:
    proto, port = {"dns": ("UDP", 53), "http": ("TCP", 80), "tls": ("TCP", 443)}.get(
        kind, ("TCP", rng.choice((22, 443, 1433, 3389, 8080)))
    )

    # Suricata writes IPv6 addresses in full (2001:0db8:0000:...); the profile compresses them.
    def full(ip: str) -> str:
        return ipaddress.IPv6Address(ip).exploded if ":" in ip else ip

    return {
        "src_ip": full(src),
        "src_port": rng.randrange(1024, 65535),
        "dest_ip": full(dest),
        "dest_port": port,
        "proto": proto,
    }


def _suricata_details(rng: random.Random, kind: str) -> dict[str, Any]:
    if kind == "flow":
        return {
            "app_proto": "tls",
            "flow": {
                "pkts_toserver": rng.randrange(3, 90),
                "pkts_toclient": 41,
                "bytes_toserver": rng.randrange(200, 9000),
                "bytes_toclient": 52210,
                "age": rng.randrange(0, 30),
                "state": "closed",
                "reason": "timeout",
                "alerted": False,
            },
        }
    if kind == "dns":
        return {
            "dns": {
                "type": "query",
                "id": rng.randrange(65536),
                "rrname": "www.example.com",
                "rrtype": "A",
                "tx_id": 0,
            }
        }
    if kind == "http":
        return {
            "tx_id": 0,
            "http": {
                "hostname": "www.example.org",
                "url": "/index.html",
                "http_user_agent": "curl/8.5.0",
                "http_method": "GET",
                "protocol": "HTTP/1.1",
                "status": 200,
                "length": 1270,
            },
        }
    if kind == "tls":
        return {
            "tls": {
                "sni": "example.net",
                "version": "TLS 1.3",
                "ja3": {"hash": "e7d705a3286e19ea42f587b344ee6865"},
            }
        }
    if kind == "fileinfo":
        return {
            "app_proto": "http",
            "fileinfo": {
                "filename": "/update.bin",
                "gaps": False,
                "state": "CLOSED",
                "stored": False,
                "size": rng.randrange(1000, 10**6),
                "tx_id": 0,
            },
        }
    return {"anomaly": {"type": "stream", "event": "stream.pkt_invalid_ack"}}


# -- Zeek notice.log --------------------------------------------------------------------------
# https://docs.zeek.org/en/current/scripts/base/frameworks/notice/main.zeek.html
# note | level | msg | sub | the message Okta gets; {src} and {dst} are filled in ({src} in
# Okta's message spelt without colons, as the sanitiser leaves an IPv6 address).
ZEEK_NOTES = _rows("""
Scan::Port_Scan | MEDIUM | {src} scanned at least 15 unique ports of host {dst} in 0m3s | local | Zeek Scan Port_Scan {src} scanned at least 15 unique ports of host {dst} in 0m3s
Scan::Address_Scan | MEDIUM | {src} scanned at least 25 unique hosts on port 22/tcp in 0m12s | remote | Zeek Scan Address_Scan {src} scanned at least 25 unique hosts on port 22 tcp in 0m12s
SSH::Password_Guessing | HIGH | {src} appears to be guessing SSH passwords (seen in 30 connections). | Sampled servers:  {dst}, 192.168.10.21 | Zeek SSH Password_Guessing {src} appears to be guessing SSH passwords seen in 30 connections.
SSH::Login_By_Password_Guesser | HIGH | Successful SSH login by password guesser {src} | 1 failed logins before success | Zeek SSH Login_By_Password_Guesser Successful SSH login by password guesser {src}
HTTP::SQL_Injection_Attacker | HIGH | An SQL injection attacker was discovered! | - | Zeek HTTP SQL_Injection_Attacker An SQL injection attacker was discovered
Intel::Notice | HIGH | Intel hit on {src} at Conn::IN_ORIG | abuse-feed | Zeek Intel Notice Intel hit on {src} at Conn IN_ORIG
FTP::Bruteforcing | HIGH | {src} had 20 failed logins on 1 FTP server in 0m42s | - | Zeek FTP Bruteforcing {src} had 20 failed logins on 1 FTP server in 0m42s
Heartbleed::SSL_Heartbeat_Attack | HIGH | An TLS heartbleed attack was detected! Direction: client | - | Zeek Heartbleed SSL_Heartbeat_Attack An TLS heartbleed attack was detected Direction client
Site::Tor_Exit_Login | LOW | Portal login from Tor exit node {src} | - | Zeek Site Tor_Exit_Login Portal login from Tor exit node {src}
SSH::Watched_Country_Login | LOW | SSH login from watched country: XX | - | Zeek SSH Watched_Country_Login SSH login from watched country XX
""")  # noqa: E501
# Notices raised with a connection carry its id.* fields as well as src and dst.
ZEEK_WITH_CONN = (
    "SSH::Login_By_Password_Guesser",
    "Intel::Notice",
    "HTTP::SQL_Injection_Attacker",
    "Heartbleed::SSL_Heartbeat_Attack",
)
# note | msg | with a connection: about the sensor, the traffic or a server, not an attacker
ZEEK_SENSOR = _rows("""
CaptureLoss::Too_Much_Loss | Capture loss of 12.3% on worker-1-2 | no
SSL::Invalid_Server_Cert | SSL certificate validation failed with (unable to get local issuer certificate) | yes
Software::Vulnerable_Version | Host running vulnerable version of OpenSSH | yes
Weird::Activity | Weird activity: bad_TCP_checksum | yes
PacketFilter::Dropped_Packets | 3021 packets dropped after filtering, 2893201 received | no
""")  # noqa: E501


def _zeek(rng: random.Random) -> list[Case]:
    plans: list[Plan] = []
    for i in range(18):
        src = _doc_v6(rng) if i % 6 == 4 else _doc_v4(rng)
        plans.append(("notice", (ZEEK_NOTES[i % len(ZEEK_NOTES)], src, None)))
    for (src, reason), note in zip(
        _non_global("private#1 private#0 private#3"), (0, 2, 1), strict=True
    ):
        plans.append(("notice", (ZEEK_NOTES[note], src, "skip:" + reason)))
    plans += [("victim", None), ("no_ip", None)] + [("sensor", row) for row in ZEEK_SENSOR]

    def render(plan: Plan, moment: datetime) -> Case:
        kind, detail = plan
        # One line in ten as with LogAscii::json_timestamps = JSON::TS_ISO8601.
        iso = rng.random() < 0.1
        record: dict[str, Any] = {
            "ts": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if iso else round(_epoch(moment), 6)
        }
        expect: dict[str, Any] | str
        if kind == "victim":
            victim = "192.168.10.30"
            record.update(_zeek_conn(rng, victim, _doc_v4(rng)))
            record.update(
                {
                    "note": "HTTP::SQL_Injection_Victim",
                    "msg": "An SQL injection victim was discovered!",
                    "src": victim,
                }
            )
            expect = "skip:victim_notice"
        elif kind == "no_ip":
            record.update(
                {
                    "note": "Site::Config_Drift",
                    "msg": "zeekctl config differs from the deployed node.cfg",
                }
            )
            expect = "skip:no_ip"
        elif kind == "sensor":
            note, msg, with_conn = detail
            if with_conn == "yes":
                record.update(_zeek_conn(rng, "192.168.10.14", _doc_v4(rng)))
            record.update({"note": note, "msg": msg})
            if with_conn == "yes":
                record.update({"src": record["id.orig_h"], "dst": record["id.resp_h"]})
            expect = "skip:sensor_notice"
        else:
            (note, level, msg, sub, message), src, skip = detail
            dst = _inside(rng, "192.168")
            if note in ZEEK_WITH_CONN:
                record.update(_zeek_conn(rng, src, dst))
            record.update({"note": note, "msg": msg.format(src=src, dst=dst)})
            if sub != "-":
                record["sub"] = sub.format(src=src, dst=dst)
            if note == "Scan::Address_Scan":
                record.update({"src": src, "p": "22/tcp"})
            else:
                record.update({"src": src, "dst": dst})
            if note.startswith(("SSH::Password", "FTP::", "Scan::")):
                record["n"] = rng.randrange(15, 60)
            said = message.format(src=" ".join(part for part in src.split(":") if part), dst=dst)
            expect = skip or _signal(src, level, said, moment)
        record.update(
            {
                "peer_descr": f"worker-1-{rng.randrange(1, 5)}",
                "actions": ["Notice::ACTION_LOG"],
                "suppress_for": 3600.0,
            }
        )
        return Case(_dumps(record), expect)

    return _timed(rng, plans, render)


def _zeek_conn(rng: random.Random, orig: str, resp: str) -> dict[str, Any]:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return {
        "uid": "C" + "".join(rng.choice(letters) for _ in range(17)),
        "id.orig_h": orig,
        "id.orig_p": rng.randrange(1024, 65535),
        "id.resp_h": resp,
        "id.resp_p": rng.choice((22, 80, 443)),
        "proto": "tcp",
    }


# -- CEF --------------------------------------------------------------------------------------
# vendor | product | version | signature id | name (escaped as written) | severity | Okta
# message | level. Severity: 0-3 Low, 4-6 Medium, 7-8 High, 9-10 Very-High, or those words.
CEF_EVENTS = _rows(r"""
Fortinet | FortiGate-100F | v7.2.5 | 0419016384 | Attack: SSH.Connection.Brute.Force | 8 | Attack SSH.Connection.Brute.Force | HIGH
Check Point | VPN-1 & FireWall-1 | R81.20 | Block | Port scan detected | 6 | Port scan detected | MEDIUM
Zscaler | NSSWeblog | 6.1 | Blocked | Malicious URL \| phishing kit | High | Malicious URL phishing kit | HIGH
Trend Micro | Deep Security Agent | 20.0.877 | 4000010 | Possible brute force on RDP | Very-High | Possible brute force on RDP | HIGH
Imperva Inc. | SecureSphere | 14.7 | SQL Injection | SQL Injection (union select) | 9 | SQL Injection union select | HIGH
Fortinet | FortiGate-100F | v7.2.5 | 0101037128 | Admin login failed | 3 | Admin login failed | LOW
Cisco | ASA | 9.18 | 106023 | Deny inbound TCP by access-group | 5 | Deny inbound TCP by access-group | MEDIUM
Check Point | SmartDefense | R81.20 | Protection | Geo Protection: blocked country | Low | Geo Protection blocked country | LOW
Zscaler | NSSWeblog | 6.1 | Allowed | Anonymizer proxy use | Medium | Anonymizer proxy use | MEDIUM
Trend Micro | Deep Security Agent | 20.0.877 | 1008224 | Microsoft Exchange Server RCE \\ ProxyShell | 10 | Microsoft Exchange Server RCE ProxyShell | HIGH
""")  # noqa: E501
# Extension values with the spec's escapes: \= for '=', \\ for '\'.
CEF_MESSAGES = (
    r"msg=policy\=perimeter matched",
    r"msg=Dropped file C:\\Users\\Public\\invoice.exe fname=invoice.exe",
    r"msg=Too many attempts (limit\=10 per minute)",
    r"requestMethod=POST request=https://portal.example.com/login?next\=/admin",
)
SYSLOG_NOISE = (
    "sshd[2211]: Accepted publickey for admin from 192.168.1.10 port 51122 ssh2",
    "kernel: [482311.120033] nf_conntrack: table full, dropping packet",
    "CRON[9921]: (root) CMD (/usr/local/bin/rotate-logs)",
)


def _cef(rng: random.Random) -> list[Case]:
    plans: list[Plan] = []
    for i in range(20):
        src = _doc_v6(rng) if i % 8 == 5 else _doc_v4(rng)
        # Older producers put IPv6 sources in c6a2 ("Source IPv6 Address").
        plans.append(("ok", (CEF_EVENTS[i % len(CEF_EVENTS)], src, "c6a2" if i == 13 else "src")))
    for src, reason in _non_global("private private#2 cgnat"):
        plans.append(("skip", (CEF_EVENTS[rng.randrange(len(CEF_EVENTS))], src, reason)))
    plans += [("no_src", None), ("unknown", None), ("truncated", None)]
    plans += [("noise", text) for text in SYSLOG_NOISE]

    def render(plan: Plan, moment: datetime) -> Case:
        kind, detail = plan
        host = rng.choice(("fw-edge-01", "fw-edge-02", "proxy-02", "waf-01"))
        bsd = f"{moment:%b} {moment.day:2d} {moment:%H:%M:%S}"
        header = rng.choice(
            (f"<134>{bsd} {host} ", f"<134>1 {_okta(moment)} {host} cef - - - ", "")
        )
        rt = _epoch_ms(moment)
        if kind == "noise":
            return Case(f"<38>{bsd} {host} {detail}", "skip:not_cef")
        if kind == "truncated":  # cut short by a relay's message size limit
            return Case(
                f"<134>{bsd} {host} CEF:0|Fortinet|FortiGate-100F|v7.2.5|04190", "reject:bad_cef"
            )
        if kind == "no_src":
            head = "CEF:0|Zscaler|NSSWeblog|6.1|Blocked|Malware download blocked|7|"
            ext = (
                f"rt={rt} dst={_doc_v4(rng)} suser=j.doe@example.com "
                r"request=http://example.com/dl?id\=42 act=Blocked"
            )
            return Case(header + head + ext, "skip:no_ip")
        if kind == "unknown":
            head = "CEF:0|Cisco|ASA|9.18|733100|Object drop rate exceeded|Unknown|"
            return Case(
                header + head + f"rt={rt} src={_doc_v4(rng)} dst=10.1.0.1", "skip:no_risk_level"
            )
        event, src, field_or_reason = detail
        vendor, product, version, signature, name, severity, message, level = event
        stamp, exact = _cef_time(rng, moment)
        if field_or_reason == "c6a2":
            where = f"c6a2={src} c6a2Label=Source IPv6 Address"
        else:
            where = f"src={src}"
        ext = (
            f"rt={stamp} {where} spt={rng.randrange(1024, 65535)} dst={_inside(rng, '10.1')} "
            f"dpt={rng.choice((22, 443, 3389))} proto=TCP act={rng.choice(('blocked', 'deny'))} "
            f"{rng.choice(CEF_MESSAGES)} cs1Label=Rule cs1={rng.choice(('edge-in', 'vpn'))}"
        )
        line = f"{header}CEF:0|{vendor}|{product}|{version}|{signature}|{name}|{severity}|{ext}"
        if kind == "skip":
            return Case(line, "skip:" + field_or_reason)
        return Case(line, _signal(src, level, message, exact))

    return _timed(rng, plans, render)


def _cef_time(rng: random.Random, moment: datetime) -> tuple[str, datetime]:
    """rt in one of the spec's forms, and the moment it denotes."""
    whole, milli = moment.replace(microsecond=0), _to_ms(moment)
    return rng.choice(
        (
            (str(_epoch_ms(milli)), milli),
            (f"{milli:%b %d %Y %H:%M:%S}.{milli.microsecond // 1000:03d}", milli),
            (f"{whole:%b %d %Y %H:%M:%S} UTC", whole),
            (f"{whole:%b %d %Y %H:%M:%S}", whole),
        )
    )


# -- ECS / Elastic Security -------------------------------------------------------------------
# https://www.elastic.co/guide/en/security/current/alert-schema.html
# rule name | kibana.alert.severity | kibana.alert.risk_score | level | Okta message
ECS_RULES = _rows("""
Potential SSH Brute Force Detected | medium | 47 | MEDIUM | Potential SSH Brute Force Detected
Threat Intel IP Address Indicator Match | critical | 99 | HIGH | Threat Intel IP Address Indicator Match
Multiple Logon Failure from the same Source Address | medium | 47 | MEDIUM | Multiple Logon Failure from the same Source Address
Potential Password Spraying of Microsoft 365 User Accounts | high | 73 | HIGH | Potential Password Spraying of Microsoft 365 User Accounts
Potential Network Scan Detected | low | 21 | LOW | Potential Network Scan Detected
Okta: Suspicious activity reported by user | high | 73 | HIGH | Okta Suspicious activity reported by user
VPN login from a new country (site rule) | medium | 50 | HIGH | VPN login from a new country site rule
""")  # noqa: E501


def _ecs(rng: random.Random) -> list[Case]:
    plans: list[Plan] = []
    for i in range(14):
        src = _doc_v6(rng) if i % 5 == 2 else _doc_v4(rng)
        plans.append(("alert", (ECS_RULES[i % len(ECS_RULES)], src, None)))
    plans += [("legacy", _doc_v4(rng)), ("third_party", _doc_v4(rng))]
    for reason in ("building_block", "building_block", "closed_alert", "closed_alert"):
        plans.append(("alert", (ECS_RULES[rng.randrange(len(ECS_RULES))], _doc_v4(rng), reason)))
    for src, reason in _non_global("private private#1 loopback"):
        plans.append(("alert", (ECS_RULES[rng.randrange(len(ECS_RULES))], src, reason)))
    plans += [("event", None)] * 3 + [("host_alert", None)] * 2

    def render(plan: Plan, moment: datetime) -> Case:
        kind, detail = plan
        stamp = _okta(moment)
        if kind == "event":
            event = {
                "kind": "event",
                "category": ["authentication"],
                "type": ["start"],
                "outcome": "failure",
                "action": "ssh_login",
            }
            record = {
                "@timestamp": stamp,
                "ecs": {"version": "8.11.0"},
                "event": event,
                "source": {"ip": _doc_v4(rng), "port": rng.randrange(1024, 65535)},
                "user": {"name": "root"},
                "host": {"name": "bastion-01"},
            }
            return Case(_dumps(record), "skip:not_alert")
        if kind == "legacy":  # a 7.x .siem-signals document
            rule = {
                "name": "Inbound SMB from the Internet",
                "severity": "high",
                "risk_score": 73,
                "type": "query",
            }
            record = {
                "@timestamp": stamp,
                "event": {"kind": "signal", "category": ["network"]},
                "source": {"ip": detail, "port": 50122},
                "signal": {"status": "open", "rule": rule},
            }
            return Case(_dumps(record), _signal(detail, "HIGH", rule["name"], moment))
        if kind == "third_party":  # an EDR writing ECS itself
            event = {
                "kind": "alert",
                "module": "edr",
                "severity": 73,
                "reason": "C2 beacon to a known bad address",
            }
            record = {
                "@timestamp": stamp,
                "ecs": {"version": "8.11.0"},
                "event": event,
                "rule": {"name": "Cobalt Strike beacon pattern"},
                "source": {"ip": detail},
                "host": {"name": "WS-FIN-0042"},
            }
            return Case(
                _dumps(record), _signal(detail, "HIGH", "Cobalt Strike beacon pattern", moment)
            )
        if kind == "host_alert":  # about a host, with no network source
            record = _kibana_alert(rng, stamp, ["Malware Prevention Alert", "high", "73"], None)
            record["process"] = {"name": "invoice.exe", "pid": rng.randrange(1000, 9000)}
            return Case(_dumps(record), "skip:no_ip")
        rule, src, skip = detail
        record = _kibana_alert(rng, stamp, rule, src)
        if skip == "building_block":
            record["kibana.alert.building_block_type"] = "default"
        if skip == "closed_alert":
            record["kibana.alert.workflow_status"] = "closed"
        return Case(
            _dumps(record), "skip:" + skip if skip else _signal(src, rule[3], rule[4], moment)
        )

    return _timed(rng, plans, render)


def _kibana_alert(
    rng: random.Random, stamp: str, rule: list[str], src: str | None
) -> dict[str, Any]:
    """An 8.x alert document: kibana.alert.* as flat dotted keys, copied ECS fields nested."""
    record: dict[str, Any] = {
        "@timestamp": stamp,
        "kibana.alert.uuid": f"{rng.getrandbits(128):032x}",
        "kibana.alert.rule.name": rule[0],
        "kibana.alert.rule.uuid": f"{rng.getrandbits(64):016x}",
        "kibana.alert.severity": rule[1],
        "kibana.alert.risk_score": int(rule[2]),
        "kibana.alert.workflow_status": "open",
        "kibana.alert.status": "active",
        "kibana.space_ids": ["default"],
        "event.kind": "signal",
        "ecs": {"version": "8.11.0"},
        "host": {"name": rng.choice(("vpn-gw-01", "bastion-01", "WS-FIN-0042"))},
    }
    if src is not None:
        record["source"] = {"ip": src, "port": rng.randrange(1024, 65535)}
    return record


# -- Splunk ES notables -----------------------------------------------------------------------
# rule_name | search_name | security_domain | Okta message
SPLUNK_RULES = _rows("""
Brute Force Access Behavior Detected | Access - Brute Force Access Behavior Detected - Rule | access | Brute Force Access Behavior Detected
Threat Activity Detected (198.51.100.0/24 feed) | Threat - Threat List Activity - Rule | threat | Threat Activity Detected 198.51.100.0 24 feed
Excessive Failed Logins | Access - Excessive Failed Logins - Rule | access | Excessive Failed Logins
Geographically Improbable Access Detected | Access - Geographically Improbable Access Detected - Rule | access | Geographically Improbable Access Detected
Network Scan Detected | Network - Port Or Host Scan Detected - Rule | network | Network Scan Detected
""")  # noqa: E501
HOST_RULE = ["Host With Multiple Infections", "Endpoint - Host With Multiple Infections - Rule"]
IDENTITY_RULE = [
    "Concurrent Login Attempts Detected",
    "Identity - Concurrent Login Attempts Detected - Rule",
]
SPLUNK_LEVEL = {"critical": "HIGH", "high": "HIGH", "medium": "MEDIUM", "low": "LOW"}


def _splunk(rng: random.Random) -> list[Case]:
    plans: list[Plan] = []
    for i in range(15):
        src = _doc_v6(rng) if i % 6 == 1 else _doc_v4(rng)
        urgency = ("critical", "high", "medium", "low")[i % 4]
        plans.append(("ok", (SPLUNK_RULES[i % len(SPLUNK_RULES)], urgency, src, i % 5 == 3)))
    plans += [("severity_only", _doc_v4(rng)), ("multivalue", _doc_v4(rng))]
    plans += [("informational", None)] * 3
    plans += [("hostname", name) for name in ("WKS-0042", "srv-db-03.corp.example")]
    plans += [("skip", pair) for pair in _non_global("private private#2 link-local#1")]
    plans.append(("no_src", None))

    def render(plan: Plan, moment: datetime) -> Case:
        kind, detail = plan
        iso = f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}+00:00"
        record: dict[str, Any] = {
            "_time": f"{_epoch(_to_ms(moment)):.3f}" if rng.random() < 0.7 else iso,
            "event_id": f"{rng.getrandbits(64):016X}@@notable@@{rng.getrandbits(128):032x}",
        }
        rule = SPLUNK_RULES[rng.randrange(len(SPLUNK_RULES))]
        urgency: str | None = rng.choice(("high", "medium", "low"))
        src: Any = None
        expect: dict[str, Any] | str
        if kind == "ok":
            rule, urgency, src, with_src_ip = detail
            if with_src_ip:  # some correlation searches also keep src_ip
                record["src_ip"] = src
            expect = _signal(src, SPLUNK_LEVEL[urgency], rule[3], moment)
        elif kind == "severity_only":  # no urgency: the profile falls back to severity
            src, urgency = detail, None
            expect = _signal(src, "MEDIUM", rule[3], moment)
        elif kind == "multivalue":  # a multivalue field: the first value counts
            src = [detail, "10.44.2.9"]
            expect = _signal(detail, SPLUNK_LEVEL[str(urgency)], rule[3], moment)
        elif kind == "informational":
            src, urgency, expect = _doc_v4(rng), "informational", "skip:informational"
        elif kind == "hostname":
            src, rule, expect = detail, [*HOST_RULE, "endpoint", ""], "skip:not_an_address"
        elif kind == "skip":
            src, expect = detail[0], "skip:" + detail[1]
        else:
            rule, expect = [*IDENTITY_RULE, "identity", ""], "skip:no_ip"
        record.update(
            {
                "rule_name": rule[0],
                "search_name": rule[1],
                "security_domain": rule[2],
                "severity": urgency or "medium",
            }
        )
        if urgency is not None:
            record["urgency"] = urgency
        if src is not None:
            record["src"] = src
        record.update(
            {
                "dest": rng.choice(("vpn-gw-01", "owa.example.com", "10.44.0.12")),
                "user": rng.choice(("j.doe", "a.smith", "svc-backup")),
                "status": "1",
                "status_label": "New",
                "owner": "unassigned",
                "count": str(rng.randrange(1, 400)),
            }
        )
        return Case(_dumps(record), expect)

    return _timed(rng, plans, render)


# -- PROFILES.md ------------------------------------------------------------------------------


def describe(samples: list[Sample]) -> str:
    """What each sample holds and what its profile makes of it."""
    first = samples[0]
    shown = [_dumps(c.expect) for c in first.cases if isinstance(c.expect, dict)][:3]
    parts = [
        textwrap.dedent("""\
        # Profile samples

        One file per built-in mapping profile (see [docs/profiles.md](../docs/profiles.md)),
        in the format its source writes, with records the profile must skip or reject mixed
        in. They are generated, not captured: do not edit them by hand, run

            python scripts/make_profile_samples.py

        from the repository root (stdlib only, fixed seed; the same run writes the same bytes,
        this file included). Subjects that must map come from the documentation ranges only;
        those that must be skipped use private, loopback, link-local or CGNAT addresses.

        To see what a file would send, without sending anything:

            okta-risk-output map --profile suricata sample_logs/suricata_eve.jsonl

        prints one signal per line on stdout and one line of counts on stderr:

        """),
        "".join(f"    {line}\n" for line in shown),
        f"    ...\n\n    INFO {_summary_line(first)}\n\n",
        "`--profile auto` recognises each line's format, so all five files can be mapped in one\n"
        "run; there, a line that is neither JSON nor CEF (the other syslog messages in cef.log)\n"
        "is dead-lettered as `not_json` rather than skipped as `not_cef`.\n",
    ]
    for sample in samples:
        parts.append(
            f"\n## {sample.file}\n\n{sample.title}, for `--profile {sample.profile}`: "
            f"{len(sample.cases)} lines.\n\n{_outcome_table(sample)}"
        )
    return "".join(parts)


def _counts(sample: Sample, verdict: str) -> Counter[str]:
    return Counter(
        c.expect.split(":", 1)[1]
        for c in sample.cases
        if isinstance(c.expect, str) and c.expect.startswith(verdict + ":")
    )


def _summary_line(sample: Sample) -> str:
    def listed(counts: Counter[str]) -> str:
        inner = " ".join(f"{k}={v}" for k, v in sorted(counts.items()))
        return f"{sum(counts.values())}" + (f" ({inner})" if counts else "")

    signals = sum(isinstance(c.expect, dict) for c in sample.cases)
    return (
        f"map profile={sample.profile} lines={len(sample.cases)} signals={signals} "
        f"skipped={listed(_counts(sample, 'skip'))} "
        f"would_dead_letter={listed(_counts(sample, 'reject'))}"
    )


def _outcome_table(sample: Sample) -> str:
    levels = Counter(c.expect["riskLevel"] for c in sample.cases if isinstance(c.expect, dict))
    spread = ", ".join(f"{lvl} {levels[lvl]}" for lvl in ("HIGH", "MEDIUM", "LOW") if levels[lvl])
    rows = [f"| signals ({spread}) | {sum(levels.values())} |"]
    rows += [f"| skipped: `{k}` | {n} |" for k, n in sorted(_counts(sample, "skip").items())]
    rows += [
        f"| dead-lettered: `{k}` | {n} |" for k, n in sorted(_counts(sample, "reject").items())
    ]
    return "\n".join(["| outcome | lines |", "|---|---|", *rows]) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "sample_logs"))
    out = Path(parser.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)
    samples = build()
    for sample in samples:
        (out / sample.file).write_text("".join(c.line + "\n" for c in sample.cases), "utf-8")
    (out / "PROFILES.md").write_text(describe(samples), "utf-8")


if __name__ == "__main__":
    main()
