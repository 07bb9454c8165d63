"""The hot path maps every line of a varied corpus to exactly what the plain path mapped it to.

The corpus is sample_logs/ and lines generated here (offsets and Z, clean and unclean
messages, every address form, unknown fields, odd numbers, broken JSON); each goes through
the native mapper under its settings and through every built-in profile. The outcomes (the
event as JSON text, keys in order; or the skip reason; or the rejection's kind and errors)
are compared with mapping_corpus.expected.jsonl.gz, written by the implementation before
issue 13's hot path (commit 04fb958). Regenerate only on a deliberate change of output:

    PYTHONPATH=<checkout> python tests/unit/test_mapping_corpus.py --write

Both JSON readers are covered: the json module alone (a process's first lines) and msgspec.
"""

from __future__ import annotations

import gzip
import json
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from okta_risk_output.errors import RecordRejected, RecordSkipped
from okta_risk_output.intake import records
from okta_risk_output.intake.profiles import load_profile
from okta_risk_output.intake.reader import Line
from okta_risk_output.intake.records import RecordMapper

NOW = 1_800_000_000.0
ROOT = Path(__file__).resolve().parents[2]
EXPECTED = Path(__file__).with_name("mapping_corpus.expected.jsonl.gz")

MAPPERS: dict[str, dict[str, Any]] = {
    "native": {},
    "native-strict": {"strict": True},
    "native-private-ok": {"allow_non_global_ips": True},
    "native-expiry": {"default_expires_in": 3600.0},
    **{f"profile-{name}": {"profile": name} for name in ("suricata", "splunk-es", "zeek", "ecs")},
    "profile-auto": {"profile": "auto"},
    "profile-cef": {"profile": "cef"},
    "profile-auto-dest-strict": {
        "profile": "auto",
        "direction": "destination",
        "strict": True,
        "allow_non_global_ips": True,
    },
}


def mapper(name: str) -> RecordMapper:
    settings = dict(MAPPERS[name])
    profile = settings.pop("profile", None)
    if profile is None:
        return RecordMapper(**settings)
    options = {k: settings.pop(k) for k in ("direction", "strict") if k in settings}
    allow = settings.pop("allow_non_global_ips", False)
    return RecordMapper(
        profile=load_profile(profile, allow_non_global_ips=allow, **options),
        allow_non_global_ips=allow,
        strict=bool(options.get("strict", False)),
    )


def _generated() -> Iterator[bytes]:
    rng = random.Random(13)
    ips = [
        "192.0.2.7", "203.0.113.255", "20.1.2.3", "8.8.8.8", "0.0.0.0", "10.1.2.3",  # noqa: S104
        "172.31.255.255", "172.32.0.1", "100.64.0.1", "100.128.0.1", "169.254.1.1",
        "192.0.0.8", "192.168.1.1", "198.18.0.1", "198.20.0.1", "224.0.0.1", "255.255.255.255",
        "127.0.0.1", "01.2.3.4", "1.2.3.256", "1.2.3", "1.2.3.4.5", " 192.0.2.1", "192.0.2.1 ",
        "\u0661.\u0662.\u0663.\u0664", "2001:db8::1", "2001:DB8:0:0::0001",
        "2001:0db8:0000:0000:0000:0000:0000:0001",
        "::ffff:192.0.2.1", "::ffff:10.0.0.1", "fe80::1", "fe80::1%eth0", "::1", "::", "fc00::1",
        "64:ff9b:1::1", "2001:2::1", "100::1", "ff02::1", "2600:1f18::abcd", "1.2.3.4/32",
        "host.example", "", 7, None, ["192.0.2.1"],
    ]  # fmt: skip
    stamps = [
        "2026-11-27T10:15:30.123Z", "2026-11-27T10:15:30Z", "2026-11-27T10:15:30.5z",
        "2026-11-27t10:15:30.123456Z", "2026-11-27 12:15:30+02:00", "2026-11-27T12:15:30.1+0200",
        "2026-11-27T05:15:30.250-05:00", "2026-11-28T01:00:00+14:00", "2026-11-27T10:15:30-00:30",
        "2026-02-29T10:00:00Z", "2024-02-29T23:30:00.000-01:00", "2026-13-01T00:00:00Z",
        "2026-11-27T24:00:00Z", "2026-11-27T23:60:00Z", "2026-11-27T23:59:60Z",
        "2026-11-27T10:00:00+24:00", "2026-11-27T10:00:00+23:99", "2026-11-27T10:00:00+01:75",
        "0001-01-01T00:30:00+01:00", "0001-01-01T00:00:00.000Z", "0999-12-31T23:00:00-02:00",
        "9999-12-31T23:30:00-01:00", "9999-12-31T23:59:59.999Z", "0000-01-01T00:00:00.000Z",
        "٢٠٢٦-11-27T10:15:30Z", " 2026-11-27T10:15:30Z ", "2026-11-27T10:15:30.000Z\n",
        "1795774530", "1795774530.75", "1795774530123", 1795774530, 1795774530.5, 1e30, -1,
        True, None, "yesterday", "", [1],
    ]  # fmt: skip
    messages = [
        "Password spray against VPN 12 failures", "Brute force (seen 30 times).", "café crème",
        "  two  spaces  ", "x" * 600, "a b" * 200, "tab\there", "new\nline", "ünïcödé ñ",
        "", " ", "...", "Suricata ET SCAN Nmap", 5, None, "<script>", "ok-_. 1",
    ]  # fmt: skip
    levels = ["HIGH", "MEDIUM", "LOW", "high", " Medium ", "low", "NONE", "", 1, None]
    for _ in range(700):
        record: dict[str, Any] = {}
        keys = ["ip", "riskLevel", "message", "timestamp", "expiresAt"]
        rng.shuffle(keys)
        for key in keys:
            if (key in ("ip", "riskLevel") and rng.random() < 0.95) or rng.random() < 0.6:
                record[key] = rng.choice(
                    {"ip": ips, "riskLevel": levels, "message": messages}.get(key, stamps)
                )
        if rng.random() < 0.05:
            record["extra"] = 1
        if rng.random() < 0.1:
            record = {"subjects": [record, {"ip": rng.choice(ips), "riskLevel": "LOW"}]}
            if rng.random() < 0.5:
                record["timestamp"] = rng.choice(stamps)
        yield json.dumps(record, ensure_ascii=rng.random() < 0.5).encode()
    yield from (
        b'{"ip":"192.0.2.1","riskLevel":"HIGH","n":123456789012345678901234567890}',
        b'{"ip":"192.0.2.1","riskLevel":18446744073709551616}',
        b'{"ip":"192.0.2.1","riskLevel":"HIGH","timestamp":NaN}',
        b'{"ip":"192.0.2.1","riskLevel":"HIGH","timestamp":Infinity}',
        b'{"ip":"192.0.2.1","riskLevel":"HIGH","timestamp":1e400}',
        b'{"ip":"192.0.2.1","riskLevel":"HIGH","message":"\\ud800"}',
        b'{"ip":"192.0.2.1","riskLevel":"LOW","riskLevel":"HIGH"}',
        b'{"ip":"192.0.2.1","riskLevel":"HIGH","message":"caf\xc3"}',
        b'\xef\xbb\xbf{"ip":"192.0.2.1","riskLevel":"HIGH"}',
        b'{"ip":"192.0.2.1","riskLevel":"HIGH","x":' + b"[" * 40 + b"]" * 40 + b"}",
        b'{"ip":"192.0.2.1","riskLevel":"HIGH","x":' + b"[" * 30 + b"]" * 30 + b"}",
        b'{"ip":"192.0.2.1","riskLevel":"HIGH","x":"' + b"[" * 40 + b'"}',
        b"[" * 5000 + b"]" * 5000,
        b'["192.0.2.1"]', b'"text"', b"17", b"1.5", b"null", b"true", b"{", b"{}x",
        b'{"event_type":"flow","event_type":"alert","src_ip":"203.0.113.9","alert":{"severity":1}}',
        b'{"event_type":"alert","event_type":"flow","src_ip":"203.0.113.9"}',
        b'{"event_type":"ALERT ","src_ip":"203.0.113.9","alert":{"severity":2,"signature":"x"}}',
        b'{"x\\"event_type":"flow","src_ip":"203.0.113.9"}',
        b'{"event_type":"flow","src_ip":"203.0.113.9"',
        b'{"event_type":["dns","alert"],"src_ip":"203.0.113.9","alert":{"severity":3}}',
        b'{"urgency":"informational","src":"203.0.113.9","rule_name":"r"}',
        b'{"urgency":"Informational ","src":"203.0.113.9","rule_name":"r"}',
        b'{"urgency":"high","urgency":"informational","src":"203.0.113.9"}',
        b'{"urgency":"informational","urgency":"high","src":"203.0.113.9","rule_name":"r"}',
    )  # fmt: skip


def corpus() -> list[bytes]:
    lines: list[bytes] = []
    for path in sorted((ROOT / "sample_logs").glob("*")):
        if path.suffix in (".jsonl", ".log"):
            lines += [raw for raw in path.read_bytes().splitlines() if raw.strip()]
    return lines + list(_generated())


def outcome(mapper: RecordMapper, data: bytes, number: int) -> Any:
    try:
        event = mapper.to_event(Line("corpus", number, data, len(data)), NOW)
    except RecordSkipped as skip:
        return {"skipped": skip.reason}
    except RecordRejected as rejected:
        return {"rejected": rejected.kind, "errors": [e.as_dict() for e in rejected.errors]}
    return {"event": json.dumps(event)}  # key order included


def outcomes() -> Iterator[dict[str, Any]]:
    lines = corpus()
    for name in MAPPERS:
        mapping = mapper(name)
        for number, data in enumerate(lines, 1):
            yield {"mapper": name, "line": number, **outcome(mapping, data, number)}


def _expected() -> list[dict[str, Any]]:
    with gzip.open(EXPECTED, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


@pytest.fixture(params=["json module", "msgspec"])
def reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Either JSON reader, for every line of the corpus."""
    if request.param == "msgspec":
        monkeypatch.setattr(records, "EAGER_LINES", -1)
    else:
        monkeypatch.setattr(records, "_decode", None)
        monkeypatch.setattr(records, "EAGER_LINES", 1 << 62)
    return str(request.param)


def test_every_line_maps_as_before(reader: str) -> None:
    expected = _expected()
    got = list(outcomes())
    assert len(got) == len(expected)
    differ = [(e, g) for e, g in zip(expected, got, strict=True) if e != g]
    assert not differ, f"{len(differ)} outcomes differ ({reader}); the first: {differ[0]}"


def test_the_corpus_reaches_every_outcome() -> None:
    expected = _expected()
    kinds = {k for o in expected for k in ("event", "skipped", "rejected") if k in o}
    reasons = {o.get("skipped") for o in expected} | {o.get("rejected") for o in expected}
    assert kinds == {"event", "skipped", "rejected"}
    assert {"not_alert", "informational", "private", "not_json", "too_deep"} <= reasons
    assert {"not_object", "not_utf8", "invalid", "loopback", "reserved"} <= reasons


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    with EXPECTED.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
        for item in outcomes():
            out.write((json.dumps(item, sort_keys=True) + "\n").encode())
